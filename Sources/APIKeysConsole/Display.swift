import APIKeysWire
import Foundation

/// How times, statuses and durations read on the pages.
enum Display {
    /// `2026-11-30 19:24 UTC`; "Never" for 0 (a key not used yet).
    static func time(_ ms: Int64) -> String {
        guard ms > 0 else { return "Never" }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second],
                                        from: Date(timeIntervalSince1970: Double(ms) / 1000))
        return "\(pad(c.year!, 4))-\(pad(c.month!))-\(pad(c.day!)) \(pad(c.hour!)):\(pad(c.minute!)):\(pad(c.second!)) UTC"
    }

    private static func pad(_ n: Int, _ width: Int = 2) -> String {
        let digits = String(n)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    static func status(_ status: APIKeysV1.KeyStatus) -> (label: String, css: String) {
        switch status {
        case .active: ("Active", "active")
        case .expired: ("Expired", "expired")
        case .revoked: ("Revoked", "revoked")
        case .unspecified: ("Unknown", "unknown")
        }
    }

    /// `30 days`, `1 hour`, `36 hours`.
    static func duration(seconds: UInt64) -> String {
        if seconds % 86_400 == 0 { return plural(seconds / 86_400, "day") }
        if seconds % 3600 == 0 { return plural(seconds / 3600, "hour") }
        return plural(seconds / 60, "minute")
    }

    static func plural(_ n: UInt64, _ word: String) -> String {
        n == 1 ? "1 \(word)" : "\(n) \(word)s"
    }

    static func roleName(_ role: APIKeysV1.Role) -> String {
        switch role {
        case .developer: "Developer"
        case .tenantAdmin: "TenantAdmin"
        case .unspecified: "Unknown"
        }
    }

    /// A key's fields as the templates use them (R6).
    static func key(_ key: APIKeysV1.ApiKey) -> [String: Any] {
        let status = status(key.status)
        return ["id": key.id, "name": key.name, "owner": key.ownerID,
                "updated": time(key.updatedAtMs), "created": time(key.createdAtMs),
                "expires": time(key.expiresAtMs), "status": status.label, "statusClass": status.css,
                "active": key.status == .active, "lastUsed": time(key.lastUsedAtMs), "uses": "\(key.useCount)"]
    }
}
