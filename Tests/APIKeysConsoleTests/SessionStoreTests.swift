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

    @Test("A flood of 100,000 sign-ins holds at most maxSessions, keeps the newest, and does not slow down")
    func signInFlood() {
        let store = SessionStore(lifetime: .seconds(3600), maxSessions: 10_000)
        let started = ContinuousClock.now
        let first = store.create(tenantID: "acme", userID: "u0", via: "development")
        var last = first
        for n in 1..<100_000 {
            last = store.create(tenantID: "acme", userID: "u\(n)", via: "development")
            #expect(store.count <= 10_000)
        }
        // Generous: the old store filtered every session on every sign-in, minutes for this.
        #expect(ContinuousClock.now - started < .seconds(60))
        #expect(store.find(first.id) == nil)
        #expect(store.find(last.id)?.userID == "u99999")
    }

    @Test("A proxy user without a cookie gets their one session back, 100,000 times")
    func proxySessionReused() {
        let store = SessionStore(lifetime: .seconds(3600), maxSessions: 1_000)
        let first = store.proxySession(tenantID: "acme", userID: "alice")
        for _ in 0..<100_000 {
            #expect(store.proxySession(tenantID: "acme", userID: "alice").id == first.id)
        }
        #expect(store.count == 1)
        let bob = store.proxySession(tenantID: "acme", userID: "bob")
        #expect(bob.id != first.id && store.count == 2)
        // Signing out ends it; the proxy's next request makes a new one.
        store.remove(first.id)
        let again = store.proxySession(tenantID: "acme", userID: "alice")
        #expect(again.id != first.id && store.find(first.id) == nil)
    }

    @Test("At the cap, expired sessions go first, then the least recently seen")
    func eviction() async throws {
        let expiring = SessionStore(lifetime: .milliseconds(100), maxSessions: 10)
        for n in 0..<10 { _ = expiring.create(tenantID: "acme", userID: "u\(n)", via: "development") }
        try await Task.sleep(for: .milliseconds(200))
        let fresh = expiring.create(tenantID: "acme", userID: "new", via: "development")
        #expect(expiring.count == 1 && expiring.find(fresh.id) != nil)

        let store = SessionStore(lifetime: .seconds(3600), maxSessions: 10)
        let sessions = (0..<10).map { store.create(tenantID: "acme", userID: "u\($0)", via: "development") }
        _ = store.find(sessions[0].id)   // seen again: now the most recent
        _ = store.create(tenantID: "acme", userID: "u10", via: "development")
        #expect(store.count == 10)
        #expect(store.find(sessions[0].id) != nil)
        #expect(store.find(sessions[1].id) == nil)
        #expect(store.find(sessions[2].id) != nil)
    }
}
