import Dispatch
import Synchronization

/// Group commit (issue 14): writes that arrive while one is committing wait, then go to the
/// store together in one transaction (``KeyStore/writeGroup(_:)``), so sixteen concurrent
/// Generate calls pay for one fsync, not sixteen.
///
/// No thread of its own: the first writer to find nobody committing leads. It takes every
/// waiting write (its own among them), commits them, applies their index changes in commit
/// order, wakes their callers, and hands the lead to the first write that queued meanwhile,
/// so no caller commits other callers' writes for longer than one group. A caller is answered
/// only after the commit that holds its write returned, durable.
final class GroupCommit: Sendable {
    /// One caller's write. Touched by its caller before it is queued and after it is done,
    /// by the leader in between; the semaphore orders the two.
    private final class Entry: @unchecked Sendable {
        var body: ((any StoreTransaction) throws -> [VerificationIndex.Change])?
        var changes: [VerificationIndex.Change] = []
        var error: (any Error)?
        var isDone = false
        let wake = DispatchSemaphore(value: 0)

        init(body: @escaping (any StoreTransaction) throws -> [VerificationIndex.Change]) {
            self.body = body
        }
    }

    private struct Queue {
        var waiting: [Entry] = []
        var hasLeader = false
    }

    private let queue = Mutex(Queue())
    private let store: any KeyStore
    private let index: VerificationIndex
    /// Serialises commits with their index updates, so the index applies commits in commit
    /// order. Held across disk I/O: only ever taken off the event loop.
    private let writeLock = Mutex(())
    /// Transactions committed (or attempted) and the writes they carried: writes per commit
    /// is what grouping buys.
    let commits = Atomic<Int>(0)
    let writesCommitted = Atomic<Int>(0)

    init(store: any KeyStore, index: VerificationIndex) {
        self.store = store
        self.index = index
    }

    /// `body` with no write committing meanwhile (the index rebuilt from the store).
    func exclusively<T>(_ body: () throws -> T) throws -> T {
        try writeLock.withLock { _ in try body() }
    }

    /// Runs `body` in a transaction (shared with whatever writes are waiting, when the store
    /// groups writes) and returns once that transaction committed, its index changes applied.
    /// `body` may run on another caller's thread while this one waits.
    func run<T: Sendable>(_ body: (any StoreTransaction, inout [VerificationIndex.Change]) throws -> T) throws -> T {
        guard store.groupsWrites else {
            return try writeLock.withLock { _ in
                var changes: [VerificationIndex.Change] = []
                let result = try store.write { tx in
                    changes = []  // a store that retries the transaction re-runs the body
                    return try body(tx, &changes)
                }
                index.apply(changes)
                commits.add(1, ordering: .relaxed)
                writesCommitted.add(1, ordering: .relaxed)
                return result
            }
        }
        return try withoutActuallyEscaping(body) { body in
            var result: T?
            let entry = Entry { tx in
                var changes: [VerificationIndex.Change] = []  // a re-run starts afresh
                result = try body(tx, &changes)
                return changes
            }
            let leads = queue.withLock { queue in
                queue.waiting.append(entry)
                guard !queue.hasLeader else { return false }
                queue.hasLeader = true
                return true
            }
            if !leads { entry.wake.wait() }
            // Woken undone: the previous leader handed over the lead.
            if !entry.isDone { lead(entry) }
            if let error = entry.error { throw error }
            return result!
        }
    }

    private func lead(_ mine: Entry) {
        let group = queue.withLock { queue in
            defer { queue.waiting = [] }
            return queue.waiting
        }
        commit(group)
        for entry in group {
            entry.body = nil  // releases the caller's closure before the caller returns
            entry.isDone = true
            if entry !== mine { entry.wake.signal() }
        }
        let next = queue.withLock { queue -> Entry? in
            guard let first = queue.waiting.first else {
                queue.hasLeader = false
                return nil
            }
            return first
        }
        next?.wake.signal()
    }

    private func commit(_ group: [Entry]) {
        commits.add(1, ordering: .relaxed)
        writesCommitted.add(group.count, ordering: .relaxed)
        writeLock.withLock { _ in
            do {
                let errors = try store.writeGroup(group.map { entry in
                    { tx in entry.changes = try entry.body!(tx) }
                })
                for (entry, error) in zip(group, errors) {
                    entry.error = error
                    if error == nil { index.apply(entry.changes) }
                }
            } catch {
                for entry in group { entry.error = error }
            }
        }
    }
}
