import APIKeysDomain
import APIKeysStorage
import Foundation

/// A fresh directory for one test's SQLite file, removed when the value goes away.
final class TempDatabase {
    let directory: URL
    var path: String { directory.appendingPathComponent("keys.sqlite").path }

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("apikeys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func open() throws -> SQLiteKeyStore { try SQLiteKeyStore(path: path) }

    deinit { try? FileManager.default.removeItem(at: directory) }
}

let t0: Int64 = 1_735_689_600_000

func makeKey(_ i: Int, tenant: String = "acme", owner: String, name: String, created: Int64, expires: Int64) -> APIKey {
    let hex = String(i, radix: 32).replacingOccurrences(of: "0", with: "z")
        .replacingOccurrences(of: "1", with: "y").replacingOccurrences(of: "8", with: "x").replacingOccurrences(of: "9", with: "w")
    let id = "key_" + String(repeating: "z", count: 20 - hex.count) + hex
    return APIKey(
        id: id, tenantID: tenant, ownerID: owner, name: name, createdAt: created, updatedAt: created + Int64(i % 5),
        expiresAt: expires, secretHash: SecretHash(of: "secret-\(i)"))
}

func seed(_ store: any KeyStore, tenants: [String] = ["acme"]) throws {
    try store.write { tx in
        for tenant in tenants {
            try tx.insertTenant(Tenant(id: tenant, name: tenant.uppercased(), createdAt: t0, settings: .defaults(at: t0)))
            for user in ["Alice", "bob", "carol"] {
                try tx.insertUser(User(tenantID: tenant, userID: user, displayName: user, roles: [.developer], licensed: true, createdAt: t0))
            }
        }
    }
}
