@testable import APIKeysConsole
import Testing

@Suite("Console sessions")
struct SessionStoreTests {
    @Test("R18: a pending secret is taken out by the first read; a second read finds nothing")
    func secretOnce() {
        let store = SessionStore(lifetime: .seconds(60))
        let session = store.create(tenantID: "acme", userID: "bob", via: "development")
        store.setPendingSecret(PendingSecret(keyID: "key_1", keyName: "ci", secret: "apk_x", expiresAtMs: 1), for: session.id)
        #expect(store.takePendingSecret(for: session.id)?.secret == "apk_x")
        #expect(store.takePendingSecret(for: session.id) == nil)
        #expect(store.find(session.id)?.pendingSecret == nil)
    }

    @Test("Sign-out removes the session; an idle one expires")
    func lifetime() async throws {
        let store = SessionStore(lifetime: .milliseconds(200))
        let session = store.create(tenantID: "acme", userID: "bob", via: "development")
        #expect(store.find(session.id)?.userID == "bob")
        try await Task.sleep(for: .milliseconds(300))
        #expect(store.find(session.id) == nil)
        let other = store.create(tenantID: "acme", userID: "alice", via: "development")
        store.remove(other.id)
        #expect(store.find(other.id) == nil)
    }

    @Test("CSRF: tokens are random, 256 bits, and compared whole")
    func tokens() {
        let a = SessionStore.randomToken(), b = SessionStore.randomToken()
        #expect(a != b && a.count == 43)
        #expect(SessionStore.tokensMatch(a, a))
        #expect(!SessionStore.tokensMatch(a, b))
        #expect(!SessionStore.tokensMatch(a, String(a.dropLast())))
        #expect(!SessionStore.tokensMatch("", ""))
    }
}
