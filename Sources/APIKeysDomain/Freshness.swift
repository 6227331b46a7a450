import Synchronization

/// X21: when the verification index was last known to hold every committed change of a
/// shared store, read by every Verify (one atomic load).
final class Freshness: Sendable {
    let isShared: Bool
    /// Milliseconds.
    let maxStaleness: Int64
    private let confirmed: Atomic<Int64>

    init(isShared: Bool, maxStaleness: Int64, confirmedAt: Int64) {
        self.isShared = isShared
        self.maxStaleness = maxStaleness
        confirmed = Atomic(confirmedAt)
    }

    var confirmedAt: Int64 { confirmed.load(ordering: .relaxed) }

    /// The index held every change committed before `time` (when the read started).
    func confirm(at time: Int64) {
        var current = confirmed.load(ordering: .relaxed)
        while time > current {
            let (exchanged, original) = confirmed.compareExchange(expected: current, desired: time, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }
}
