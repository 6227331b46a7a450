#if canImport(Glibc)
import Glibc
#endif

/// The peers' stand-in for the real verification: a dictionary of every key by secret,
/// the service credential compared as a string, and the expiry checked against now.
/// (apikeysd does more per call: it parses the secret, checks its CRC and hashes it with
/// SHA-256, and hashes the service credential too; the peers are given the easier job.)
public struct VerifyLookup: Sendable {
    public enum Failure: Error { case unauthenticatedService, unknownKey, expired }

    private let keys: [String: KeySet.Entry]
    private let authorization: String

    public init(keys: KeySet, serviceCredential: String) {
        var table: [String: KeySet.Entry] = [:]
        table.reserveCapacity(keys.entries.count)
        for entry in keys.entries { table[entry.secret] = entry }
        self.keys = table
        self.authorization = "Service \(serviceCredential)"
    }

    public var count: Int { keys.count }

    public func verify(authorization: String?, secret: String) -> Result<KeySet.Entry, Failure> {
        guard authorization == self.authorization else { return .failure(.unauthenticatedService) }
        guard let entry = keys[secret] else { return .failure(.unknownKey) }
        guard entry.expiresAtMs > Self.nowMilliseconds() else { return .failure(.expired) }
        return .success(entry)
    }

    static func nowMilliseconds() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Int64(ts.tv_sec) * 1000 + Int64(ts.tv_nsec) / 1_000_000
    }
}
