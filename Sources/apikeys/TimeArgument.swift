import ArgumentParser
import Foundation

/// A point in time for --since, --until and --expires-at, in Unix milliseconds.
enum TimeArgument {
    /// ISO 8601 only: used where a relative time would be ambiguous (--expires-at).
    static func absolute(_ text: String) throws -> Int64 {
        guard let milliseconds = Timestamp.parse(text) else {
            throw ValidationError("'\(text)' is not a time: use ISO 8601, e.g. 2030-01-31T12:00:00Z or 2030-01-31")
        }
        return milliseconds
    }

    /// ISO 8601, or a duration meaning "that long ago" (`--since 1h`).
    static func absoluteOrAgo(_ text: String) throws -> Int64 {
        if let milliseconds = Timestamp.parse(text) { return milliseconds }
        if let ago = DurationArgument(argument: text) {
            // Saturate: `--since 100000000d` means "since forever", not an overflow trap.
            let (agoMilliseconds, overflow) = Int64(clamping: ago.seconds).multipliedReportingOverflow(by: 1000)
            return overflow ? Int64.min / 2 : max(Int64.min / 2, nowMilliseconds() - agoMilliseconds)
        }
        throw ValidationError("'\(text)' is not a time: use ISO 8601 (2030-01-31T12:00:00Z) or a duration ago (90m, 12h, 7d)")
    }

    static func nowMilliseconds() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }
}
