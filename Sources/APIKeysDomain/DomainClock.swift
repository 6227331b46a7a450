import Foundation
import Synchronization

/// The source of "now" for every rule that depends on time (R8 expiry, X2 bounds, X9 windows).
///
/// Injected so that tests advance time by hand instead of sleeping.
public protocol DomainClock: Sendable {
    /// The current time in Unix epoch milliseconds (UTC), as the protos carry it.
    var nowMilliseconds: Int64 { get }
}

/// The wall clock, used in production.
public struct SystemClock: DomainClock {
    public init() {}

    public var nowMilliseconds: Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded(.down))
    }
}

/// A clock that only moves when told to; for tests of expiry and usage windows.
public final class ManualClock: DomainClock {
    private let value: Mutex<Int64>

    /// Starts at `milliseconds` (default: 2025-01-01T00:00:00Z).
    public init(milliseconds: Int64 = 1_735_689_600_000) {
        self.value = Mutex(milliseconds)
    }

    public var nowMilliseconds: Int64 { value.withLock { $0 } }

    public func advance(byMilliseconds delta: Int64) {
        value.withLock { $0 += delta }
    }

    public func advance(bySeconds delta: Int64) {
        advance(byMilliseconds: delta * 1000)
    }

    public func set(milliseconds: Int64) {
        value.withLock { $0 = milliseconds }
    }
}
