import APIKeysDomain
import Synchronization

/// X9 on the SQLite store: each key's verifications per minute, and whether its excessive-use
/// event was stored. One server owns a SQLite file (X21), so its own counts are the whole
/// deployment's and the totals can live in memory, like the counts before a flush do.
final class UsageWindowTotals: Sendable {
    fileprivate struct WindowID: Hashable {
        var keyID: String
        var window: Int64
    }

    fileprivate struct Total {
        var count: UInt64 = 0
        var raised = false
    }

    private let totals = Mutex<(totals: [WindowID: Total], prunedBefore: Int64)>(([:], .min))

    /// The events `windows` raise, and the totals to keep once they are stored: call
    /// ``commit(_:)`` with the second after the transaction that stores the first commits.
    func tally(_ windows: [UsageBatch.WindowUsage]) -> (events: [Event], pending: PendingTotals) {
        totals.withLock { state in
            var updated: [WindowID: Total] = [:]
            updated.reserveCapacity(windows.count)
            var events: [Event] = []
            for usage in windows {
                let id = WindowID(keyID: usage.keyID, window: usage.window)
                var total = updated[id] ?? state.totals[id] ?? Total()
                total.count += usage.count
                if total.count > usage.threshold, !total.raised {
                    total.raised = true
                    events.append(usage.event)
                }
                updated[id] = total
            }
            return (events, PendingTotals(totals: updated, oldestWindow: windows.map(\.window).min()))
        }
    }

    func commit(_ pending: PendingTotals) {
        totals.withLock { state in
            // Forgetting old windows copies every total: only when a minute has passed, not
            // on every flush (once a second, tens of thousands of keys).
            if let oldest = pending.oldestWindow, oldest - 1 > state.prunedBefore {
                state.totals = state.totals.filter { $0.key.window >= oldest - 1 }
                state.prunedBefore = oldest - 1
            }
            state.totals.merge(pending.totals) { _, new in new }
        }
    }

    struct PendingTotals: Sendable {
        fileprivate var totals: [WindowID: Total]
        fileprivate var oldestWindow: Int64?
    }
}
