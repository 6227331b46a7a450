import Crypto
import Foundation
import Synchronization

/// Sessions in memory, keyed by a random ID that only the session cookie carries.
///
/// In memory on purpose: a restart signs everyone out, and no session (nor a pending
/// secret) is ever written to disk.
final class SessionStore: Sendable {
    private let sessions = Mutex<[String: Session]>([:])
    private let lifetime: Duration

    init(lifetime: Duration) {
        self.lifetime = lifetime
    }

    func create(tenantID: String, userID: String, via: String) -> Session {
        let session = Session(id: Self.randomToken(), tenantID: tenantID, userID: userID,
                              csrfToken: Self.randomToken(), via: via, lastSeen: .now)
        sessions.withLock { all in
            let now = ContinuousClock.now
            all = all.filter { now - $0.value.lastSeen < lifetime }
            all[session.id] = session
        }
        return session
    }

    /// The live session with this ID, its idle timer restarted.
    func find(_ id: String) -> Session? {
        sessions.withLock { all in
            guard var session = all[id] else { return nil }
            let now = ContinuousClock.now
            guard now - session.lastSeen < lifetime else {
                all[id] = nil
                return nil
            }
            session.lastSeen = now
            all[id] = session
            return session
        }
    }

    func remove(_ id: String) {
        sessions.withLock { _ = $0.removeValue(forKey: id) }
    }

    func setPendingSecret(_ secret: PendingSecret, for id: String) {
        sessions.withLock { $0[id]?.pendingSecret = secret }
    }

    /// The pending secret, removed as it is read: it is shown once (R18).
    func takePendingSecret(for id: String) -> PendingSecret? {
        sessions.withLock { all in
            let secret = all[id]?.pendingSecret
            all[id]?.pendingSecret = nil
            return secret
        }
    }

    func setNotice(_ notice: String, for id: String) {
        sessions.withLock { $0[id]?.notice = notice }
    }

    func takeNotice(for id: String) -> String? {
        sessions.withLock { all in
            let notice = all[id]?.notice
            all[id]?.notice = nil
            return notice
        }
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
