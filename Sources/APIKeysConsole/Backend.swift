import APIKeysClient
import APIKeysWire

/// The client every page shares: its pool of connections to apikeysd reconnects by itself
/// (a restarted apikeysd costs a page a short wait, not an error).
actor Backend {
    private let base: APIKeysClient
    private let serviceCredential: String

    init(host: String, port: Int, serviceCredential: String) {
        var configuration = APIKeysClient.Configuration()
        // A page waits this long for apikeysd to come back before it shows the error.
        configuration.connectionWait = .seconds(5)
        base = APIKeysClient(host: host, port: port, configuration: configuration)
        self.serviceCredential = serviceCredential
    }

    /// A client acting for `session`'s user through the console's service credential (X13):
    /// apikeysd reads the user's roles and license at every call, so the console decides
    /// nothing about access itself.
    func client(for session: Session) async throws -> APIKeysClient {
        base.acting(as: .service(serviceCredential, tenant: session.tenantID, user: session.userID))
    }

    func close() async {
        await base.close()
    }
}
