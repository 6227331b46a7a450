import APIKeysWire

/// How API messages read in tables and in --json.
extension APIKeysV1.KeyStatus {
    var label: String {
        switch self {
        case .active: "Active"
        case .expired: "Expired"
        case .revoked: "Revoked"
        case .unspecified: "-"
        }
    }
}

extension APIKeysV1.Role {
    /// The name the Verification service and the spec use.
    var label: String {
        switch self {
        case .developer: "Developer"
        case .tenantAdmin: "TenantAdmin"
        case .unspecified: "-"
        }
    }
}

extension APIKeysV1.RevokeOutcome {
    var label: String {
        switch self {
        case .revoked: "revoked"
        case .notFound: "not found"
        case .notActive: "not active"
        case .permissionDenied: "permission denied"
        case .unspecified: "unknown"
        }
    }
}

extension APIKeysV1.ApiKey {
    var json: JSON {
        .object([
            "id": .string(id), "name": .string(name), "ownerId": .string(ownerID),
            "tenantId": .string(tenantID), "status": .string(status.label.lowercased()),
            "createdAt": .time(createdAtMs), "updatedAt": .time(updatedAtMs),
            "expiresAt": .time(expiresAtMs), "revokedAt": .time(revokedAtMs),
            "lastUsedAt": .time(lastUsedAtMs), "useCount": .uint(useCount),
        ])
    }

    /// `keys get`: every field, one a line.
    var details: String {
        [
            ("Name", name), ("ID", id), ("Owner", ownerID), ("Status", status.label),
            ("Created", Timestamp.minutes(createdAtMs) + " UTC"),
            ("Last updated", Timestamp.minutes(updatedAtMs) + " UTC"),
            ("Expires", Timestamp.minutes(expiresAtMs) + " UTC"),
            ("Revoked", revokedAtMs == 0 ? "-" : Timestamp.minutes(revokedAtMs) + " UTC"),
            ("Last used", lastUsedAtMs == 0 ? "never" : Timestamp.minutes(lastUsedAtMs) + " UTC"),
            ("Uses", String(useCount)),
        ].aligned()
    }
}

extension APIKeysV1.User {
    var roleLabels: [String] { roles.filter { $0 != .unspecified }.map(\.label) }

    var json: JSON {
        .object([
            "tenantId": .string(tenantID), "userId": .string(userID), "displayName": .string(displayName),
            "roles": .array(roleLabels.map(JSON.string)), "licensed": .bool(licensed),
            "createdAt": .time(createdAtMs),
        ])
    }

    var details: String {
        [
            ("User", userID), ("Tenant", tenantID), ("Name", displayName.isEmpty ? "-" : displayName),
            ("Roles", roleLabels.isEmpty ? "none" : roleLabels.joined(separator: ", ")),
            ("Licensed", licensed ? "yes" : "no"), ("Created", Timestamp.minutes(createdAtMs) + " UTC"),
        ].aligned()
    }
}

extension APIKeysV1.Event {
    /// `k=v` pairs in key order, so the column reads the same every time.
    /// Merged refusals (X20) lead with how many they stand for.
    var detailsText: String {
        let pairs = details.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let all = (count > 1 ? ["count=\(count)"] : []) + pairs
        return all.isEmpty ? "-" : all.joined(separator: " ")
    }

    var json: JSON {
        .object([
            "id": .uint(id), "time": .time(timeMs), "tenantId": .string(tenantID), "actor": .string(actor),
            "action": .string(action), "keyId": keyID.isEmpty ? .null : .string(keyID),
            "outcome": .string(outcome), "count": .uint(max(count, 1)),
            "details": .object(JSONObject(pairs: details.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) })),
        ])
    }
}

extension APIKeysV1.TenantSettings {
    var json: JSON {
        .object([
            "apiKeysEnabled": .bool(apiKeysEnabled), "maxExpirySeconds": .uint(maxExpirySeconds),
            "maxExpiry": .string(DurationArgument(seconds: maxExpirySeconds).description),
            "maxKeysPerUser": .uint(UInt64(maxKeysPerUser)),
            "excessiveUsePerMinute": .uint(UInt64(excessiveUsePerMinute)), "updatedAt": .time(updatedAtMs),
        ])
    }

    var details: String {
        [
            ("API keys enabled", apiKeysEnabled ? "yes" : "no"),
            ("Max expiry", DurationArgument(seconds: maxExpirySeconds).description),
            ("Max keys per user", String(maxKeysPerUser)),
            ("Excessive use per minute", String(excessiveUsePerMinute)),
            ("Last updated", Timestamp.minutes(updatedAtMs) + " UTC"),
        ].aligned()
    }
}

extension JSONObject {
    init(pairs: [(String, JSON)]) {
        self.init()
        self.pairs = pairs
    }
}

extension Array where Element == (String, String) {
    /// `Label:  value` lines with the values lined up.
    func aligned() -> String {
        let width = (map(\.0.count).max() ?? 0) + 1
        return map { label, value in
            (label + ":").padding(to: width) + "  " + value
        }.joined(separator: "\n")
    }
}

extension String {
    func padding(to width: Int) -> String {
        count >= width ? self : self + String(repeating: " ", count: width - count)
    }
}
