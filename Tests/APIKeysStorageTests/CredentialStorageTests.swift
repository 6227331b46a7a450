@testable import APIKeysStorage
import APIKeysDomain
import GRDB
import Testing

/// X18 in SQLite: scopes, tenants and revocation are stored, loaded and migrated.
@Suite("SQLite store: credentials")
struct CredentialStorageTests {
    @Test("Schema v3 migrates a v2 file: stored credentials keep acting everywhere, and can be revoked")
    func migrationFromV2() throws {
        let db = try TempDatabase()
        let hash = SecretHash(of: "a-service-secret")
        do {
            let queue = try DatabaseQueue(path: db.path)
            try SQLiteSchema.migrator.migrate(queue, upTo: "v2: usage table, search index")
            try queue.write { db in
                try db.execute(sql: "INSERT INTO credential (id, kind, name, secret_hash, created_at) VALUES (?, 'service', 'portal', ?, ?)",
                               arguments: ["svc_abcdefghijklmnopqrst", hash.data, t0])
                try db.execute(sql: "INSERT INTO credential (id, kind, name, secret_hash, created_at) VALUES (?, 'operator', 'operator', ?, ?)",
                               arguments: ["opr_abcdefghijklmnopqrst", hash.data, t0 + 1])
            }
        }
        let store = try db.open()
        let applied = try store.pool.read { db in try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations") }
        // v4 (event counts) follows v3.
        #expect(applied.suffix(2) == ["v3: credential scopes and revocation", "v4: event counts and retention"])
        let credentials = try store.credentials()
        #expect(credentials.map(\.id) == ["svc_abcdefghijklmnopqrst", "opr_abcdefghijklmnopqrst"])
        #expect(credentials.allSatisfy { $0.scope == .act && $0.tenants.isEmpty && $0.revokedAt == nil })
        #expect(credentials[0].secretHash == hash)
        #expect(try store.hasOperatorCredential())

        try store.write { tx in try tx.revokeCredential(id: "opr_abcdefghijklmnopqrst", at: t0 + 5) }
        #expect(try store.credentials()[1].revokedAt == t0 + 5)
        // Bootstrap makes a new operator credential when every stored one is revoked.
        #expect(try !store.hasOperatorCredential())
    }

    @Test("X18: scope, tenants and revocation round-trip through the file and the snapshot")
    func roundTrip() throws {
        let db = try TempDatabase()
        let credential = Credential(
            id: "svc_zyxwvutsrqponmlkjihg", kind: .service, name: "billing", secretHash: SecretHash(of: "s"), createdAt: t0,
            scope: .act, tenants: ["acme", "globex"])
        let verifier = Credential(
            id: "svc_bcdefghijklmnopqrstu", kind: .service, name: "edge", secretHash: SecretHash(of: "v"), createdAt: t0 + 1,
            scope: .verify)
        do {
            let store = try db.open()
            try store.write { tx in
                try tx.insertCredential(credential)
                try tx.insertCredential(verifier)
                try tx.revokeCredential(id: verifier.id, at: t0 + 9)
            }
        }
        let reopened = try db.open()
        var revokedVerifier = verifier
        revokedVerifier.revokedAt = t0 + 9
        #expect(try reopened.credentials() == [credential, revokedVerifier])
        var loaded: [Credential] = []
        try reopened.loadSnapshot { if case .credential(let c) = $0 { loaded.append(c) } }
        #expect(Set(loaded) == [credential, revokedVerifier])
    }
}
