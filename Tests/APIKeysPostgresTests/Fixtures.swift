import APIKeysDomain
import APIKeysPostgres
import Foundation

let t0: Int64 = 1_735_689_600_000

/// A store on a schema of its own; the schema is dropped when the test is done.
final class TestStore {
    let schema = TestCluster.freshSchema()
    private(set) var stores: [PostgresKeyStore] = []

    /// A store (a "server") on this test's schema; each call opens another.
    func open(configuration: PostgresKeyStore.Configuration = .init()) throws -> PostgresKeyStore {
        let store = try TestCluster.store(schema: schema, configuration: configuration)
        stores.append(store)
        return store
    }

    deinit {
        for store in stores { store.close() }
        _ = try? TestCluster.admin("DROP SCHEMA IF EXISTS \"\(schema)\" CASCADE")
    }
}

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

/// A service on `store` with a tenant "acme" whose API keys are enabled, and its admin.
func makeService(_ store: any KeyStore, clock: ManualClock, createTenant: Bool) throws -> APIKeyService {
    let service = try APIKeyService(store: store, clock: clock)
    if createTenant {
        _ = try service.createTenant(.operator, id: "acme", name: "Acme")
        _ = try service.createUser(.operator, tenantID: "acme", userID: "admin", displayName: "Ada", roles: [.tenantAdmin, .developer], licensed: true)
        _ = try service.createUser(.operator, tenantID: "acme", userID: "dev", displayName: "Dev", roles: [.developer], licensed: true)
        _ = try service.updateSettings(member("admin"), SettingsUpdate(apiKeysEnabled: true))
    }
    return service
}

func member(_ userID: String, tenant: String = "acme") -> Caller {
    .member(Caller.Member(tenantID: tenant, userID: userID, via: .service(ServiceIdentity(name: "portal", credentialID: "configured:portal"))))
}
