import Crypto
import Foundation
import Synchronization

/// Sessions in memory, keyed by a random ID that only the session cookie carries.
///
/// In memory on purpose: a restart signs everyone out, and no session (nor a pending
/// secret) is ever written to disk. Bounded, so a flood of sign-ins cannot grow it without
/// end: expired sessions are swept at most once a minute, and at `maxSessions` the least
/// recently seen go first.
final class SessionStore: Sendable {
    private struct State {
        var sessions: [String: Session] = [:]
        /// A proxy user's one session, `tenant/user` → session ID: a proxy that sends the
        /// header with no cookie (a script, a browser that drops cookies) reuses it instead of
        /// making a session per request.
        var proxySessions: [String: String] = [:]
        var nextSweep: ContinuousClock.Instant
    }

    private let state: Mutex<State>
    private let lifetime: Duration
    let maxSessions: Int
    static let sweepInterval: Duration = .seconds(60)

    init(lifetime: Duration, maxSessions: Int = ConsoleConfiguration.defaultMaxSessions) {
        precondition(maxSessions > 0, "maxSessions must be positive")
        self.lifetime = lifetime
        self.maxSessions = maxSessions
        state = Mutex(State(nextSweep: .now + Self.sweepInterval))
    }

    /// How many sessions are held (live or not yet swept).
    var count: Int { state.withLock { $0.sessions.count } }

    func create(tenantID: String, userID: String, via: String) -> Session {
        state.withLock { state in insert(tenantID: tenantID, userID: userID, via: via, into: &state) }
    }

    /// The session of a user the trusted proxy vouches for: the one they already have, its
    /// idle timer restarted, or a new one.
    func proxySession(tenantID: String, userID: String) -> Session {
        state.withLock { state in
            let identity = "\(tenantID)/\(userID)"
            let now = ContinuousClock.now
            if let id = state.proxySessions[identity], var session = state.sessions[id],
               now - session.lastSeen < lifetime {
                session.lastSeen = now
                state.sessions[id] = session
                return session
            }
            let session = insert(tenantID: tenantID, userID: userID, via: "proxy", into: &state)
            state.proxySessions[identity] = session.id
            return session
        }
    }

    /// The live session with this ID, its idle timer restarted.
    func find(_ id: String) -> Session? {
        state.withLock { state in
            guard var session = state.sessions[id] else { return nil }
            let now = ContinuousClock.now
            guard now - session.lastSeen < lifetime else {
                Self.remove(id, from: &state)
                return nil
            }
            session.lastSeen = now
            state.sessions[id] = session
            return session
        }
    }

    func remove(_ id: String) {
        state.withLock { Self.remove(id, from: &$0) }
    }

    func setPendingSecret(_ secret: PendingSecret, for id: String) {
        state.withLock { $0.sessions[id]?.pendingSecret = secret }
    }

    /// The pending secret, removed as it is read: it is shown once (R18).
    func takePendingSecret(for id: String) -> PendingSecret? {
        state.withLock { state in
            let secret = state.sessions[id]?.pendingSecret
            state.sessions[id]?.pendingSecret = nil
            return secret
        }
    }

    func setNotice(_ notice: String, for id: String) {
        state.withLock { $0.sessions[id]?.notice = notice }
    }

    func takeNotice(for id: String) -> String? {
        state.withLock { state in
            let notice = state.sessions[id]?.notice
            state.sessions[id]?.notice = nil
            return notice
        }
    }

    private func insert(tenantID: String, userID: String, via: String, into state: inout State) -> Session {
        let now = ContinuousClock.now
        if now >= state.nextSweep || state.sessions.count >= maxSessions {
            sweepExpired(&state, now: now)
        }
        if state.sessions.count >= maxSessions {
            evictLeastRecentlySeen(&state)
        }
        let session = Session(id: Self.randomToken(), tenantID: tenantID, userID: userID,
                              csrfToken: Self.randomToken(), via: via, lastSeen: now)
        state.sessions[session.id] = session
        return session
    }

    private func sweepExpired(_ state: inout State, now: ContinuousClock.Instant) {
        state.nextSweep = now + Self.sweepInterval
        let expired = state.sessions.values.filter { now - $0.lastSeen >= lifetime }.map(\.id)
        for id in expired { Self.remove(id, from: &state) }
    }

    /// Down to 90% of the cap in one go, so a flood pays for one sort per tenth of the cap,
    /// not a scan per sign-in.
    private func evictLeastRecentlySeen(_ state: inout State) {
        let keep = maxSessions * 9 / 10
        let excess = state.sessions.count - keep
        guard excess > 0 else { return }
        let oldest = state.sessions.values.sorted { $0.lastSeen < $1.lastSeen }.prefix(excess).map(\.id)
        for id in oldest { Self.remove(id, from: &state) }
    }

    private static func remove(_ id: String, from state: inout State) {
        guard let session = state.sessions.removeValue(forKey: id), session.via == "proxy" else { return }
        let identity = "\(session.tenantID)/\(session.userID)"
        if state.proxySessions[identity] == id { state.proxySessions[identity] = nil }
    }

    /// 256 random bits, URL-safe base64.
    static func randomToken() -> String {
        let key = SymmetricKey(size: .bits256)
        let data = key.withUnsafeBytes { Data($0) }
        return data.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Compares two tokens in time that does not depend on where they differ.
    static func tokensMatch(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count, !x.isEmpty else { return false }
        var difference: UInt8 = 0
        for i in x.indices { difference |= x[i] ^ y[i] }
        return difference == 0
    }
}
