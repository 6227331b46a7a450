import APIKeysDomain
import APIKeysWire
import NIOPosix

/// `apikeys.v1.Health`: needs no credential. SERVING only while the store answers
/// (``Readiness``), so a full or vanished disk shows here and not only in failed writes.
struct HealthService: APIKeysV1.HealthHandler {
    static let version = APIKeysVersion.current
    let readiness: Readiness
    let pool: NIOThreadPool

    func check(_ request: APIKeysV1.HealthCheckRequest, call: ServerCall) async throws -> APIKeysV1.HealthCheckResponse {
        // The query may block on SQLite: on the pool, never on the event loop.
        let readiness = self.readiness
        let problem = try await pool.runIfActive { readiness.problem() }
        return APIKeysV1.HealthCheckResponse(status: problem == nil ? .serving : .notServing, version: Self.version)
    }
}
