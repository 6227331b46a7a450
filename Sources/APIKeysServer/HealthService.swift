import APIKeysWire

/// `/apikeys.v1.Health/Check`: needs no credential, never blocks.
enum HealthService {
    static let version = "0.1.0"

    static func register(in router: inout RPCRouter) {
        router.registerNonBlocking("/apikeys.v1.Health/Check") { (_: HealthCheckRequest, _) in
            HealthCheckResponse(status: .serving, version: version)
        }
    }
}
