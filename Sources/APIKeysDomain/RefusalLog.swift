import Synchronization

/// X20: merges refusals so that one actor refused again and again writes one event per
/// (tenant, actor, action, reason) and minute, with a count, instead of one row per call.
///
/// The first refusal of a minute is stored at once (an admin sees it straight away); the
/// ones after it only count in memory, and ``takeCounts()`` hands the counts to the usage
/// flush, which adds them to the stored event. Memory is bounded by the distinct refusals of
/// the current minute: older entries go once their counts are taken.
final class RefusalLog: Sendable {
    /// `operation` is the attempted operation of a `permission.denied` (empty otherwise), so a
    /// denied read and a denied write stay two events: both are a fixed, small set.
    struct Key: Hashable {
        var tenantID: ExactString
        var actor: ExactString
        var action: String
        var operation: String
        var reason: String
    }

    struct Entry {
        var window: Int64
        /// The stored event, or nil while the first refusal is being written.
        var eventID: UInt64?
        /// Refusals counted since the stored event's count was last updated.
        var unstored: UInt64 = 0
    }

    /// A count to add to a stored event.
    struct Count: Sendable, Hashable {
        var eventID: UInt64
        var count: UInt64
    }

    private struct State {
        var entries: [Key: Entry] = [:]
        /// Counts of entries replaced by a later minute's, not yet taken.
        var settled: [Count] = []
    }

    private let state = Mutex(State())

    /// Counts `count` refusals under `key` in minute `window`. True when the caller must store
    /// a new event (then report it with ``stored(_:window:eventID:)``); false when merged.
    func note(_ key: Key, window: Int64, count: UInt64) -> Bool {
        state.withLock { state in
            if var entry = state.entries[key], entry.window == window {
                entry.unstored += count
                state.entries[key] = entry
                return false
            }
            if let old = state.entries[key], let id = old.eventID, old.unstored > 0 {
                state.settled.append(Count(eventID: id, count: old.unstored))
            }
            state.entries[key] = Entry(window: window)
            return true
        }
    }

    /// The first refusal of `key`'s minute was stored as `eventID`, or could not be (nil):
    /// then the entry goes, and the next refusal tries again.
    func stored(_ key: Key, window: Int64, eventID: UInt64?) {
        state.withLock { state in
            guard var entry = state.entries[key], entry.window == window, entry.eventID == nil else { return }
            if let eventID {
                entry.eventID = eventID
                state.entries[key] = entry
            } else {
                state.entries[key] = nil
            }
        }
    }

    /// Takes the counts to add to stored events; forgets entries of minutes before `window`.
    func takeCounts(window: Int64) -> [Count] {
        state.withLock { state in
            var counts = state.settled
            state.settled = []
            for (key, var entry) in state.entries {
                guard let id = entry.eventID else { continue }
                if entry.unstored > 0 {
                    counts.append(Count(eventID: id, count: entry.unstored))
                    entry.unstored = 0
                }
                state.entries[key] = entry.window < window ? nil : entry
            }
            return counts
        }
    }

    /// Puts back counts the store failed to record, for the next flush.
    func restore(_ counts: [Count]) {
        state.withLock { $0.settled.append(contentsOf: counts) }
    }
}
