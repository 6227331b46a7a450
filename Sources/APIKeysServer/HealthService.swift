import APIKeysDomain
import APIKeysWire
import NIOPosix

/// `/apikeys.v1.Health/Check`: needs no credential. SERVING only while the store answers
/// (``Readiness``), so a full or vanished disk shows here and not only in failed writes.
enum HealthService {
    static let version = APIKeysVersion.current

    static func register(in router: inout RPCRouter, readiness: Readiness, pool: NIOThreadPool) {
        router.register("/apikeys.v1.Health/Check") { (_: HealthCheckRequest, _) in
            // The query may block on SQLite: on the pool, never on the event loop.
            let problem = try await pool.runIfActive { readiness.problem() }
            return HealthCheckResponse(status: problem == nil ? .serving : .notServing, version: version)
        }
    }
}
