import APIKeysDomain
import Logging
import Synchronization

/// X20: deletes events older than the retention period from the usage-flush thread: a
/// round a minute, each a few transactions of 1,000 rows, so no call waits long on the
/// write lock; while rounds come back full (a backlog), one round per flush until it is gone.
final class EventRetention: Sendable {
    private let retention: Duration
    private let next = Mutex<ContinuousClock.Instant?>(nil)
    static let interval: Duration = .seconds(60)

    init(retention: Duration) { self.retention = retention }

    func runIfDue(_ service: APIKeyService, logger: Logger) {
        let now = ContinuousClock.now
        guard next.withLock({ $0.map { now >= $0 } ?? true }) else { return }
        let batchSize = 1_000, maxBatches = 5
        var full = false
        do {
            let deleted = try service.pruneEvents(olderThan: retention, batchSize: batchSize, maxBatches: maxBatches)
            full = deleted == batchSize * maxBatches
            if deleted > 0 { logger.debug("deleted events past retention", metadata: ["count": "\(deleted)"]) }
        } catch {
            logger.error("could not delete events past retention", metadata: [
                "error": "\(error)", "error_id": "\(error.errorID ?? "-")",
            ])
        }
        next.withLock { $0 = full ? now : now + Self.interval }
    }
}
