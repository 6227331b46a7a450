import APIKeysClient
import APIKeysServer
import APIKeysWire
import Foundation
import Testing

/// The one real server (SQLite file, TCP) the rule suites share, with the operator
/// credential it printed on its first start and a service credential made through the API.
struct SharedServer: Sendable {
    let host: String
    let port: Int
    let operatorSecret: String
    let serviceSecret: String
    /// Where the server keeps its SQLite files, when this process started it.
    var dataDirectory: String? = nil

    /// Started once, on first use; it lives as long as the test process.
    private static let started = Task<SharedServer, any Error> {
        let server = try await TestServer.start { configuration in
            // Connections of a test stay open across its short sleeps.
            configuration.rpc.connection.idleTimeout = .seconds(120)
            // Usage and verify-side events reach the store quickly (X9, X10).
            configuration.usageFlushInterval = .milliseconds(100)
        }
        guard let operatorSecret = server.newOperatorCredential else {
            throw RPCError(code: .internal, message: "a fresh data directory must create an operator credential")
        }
        var shared = try await SharedServer.provision(host: server.host, port: server.port, operatorSecret: operatorSecret)
        shared.dataDirectory = TestStore.isSQLite ? server.dataDirectory : nil
        return shared
    }

    /// Creates the `console` service credential on a running server.
    static func provision(host: String, port: Int, operatorSecret: String) async throws -> SharedServer {
        let client = try await APIKeysClient.connect(host: host, port: port, credential: .operator(operatorSecret))
        let service = try await client.createServiceCredential(APIKeysV1.CreateServiceCredentialRequest(name: "console"))
        await client.close()
        return SharedServer(host: host, port: port, operatorSecret: operatorSecret, serviceSecret: service.secret)
    }

    static func get() async throws -> SharedServer { try await started.value }
}

/// A fresh tenant for one test: an admin (`admin`, TenantAdmin, licensed), an operator
/// client, and helpers to act as users through the service credential (X13) or by key.
struct RuleTenant: Sendable {
    let shared: SharedServer
    let id: String
    let admin = "admin"
    /// The operator, on this test's connection.
    let `operator`: APIKeysClient

    /// Creates the tenant; `enabled` turns API keys on (R2: they start off);
    /// `adminIsDeveloper` also gives the admin the Developer role.
    static func make(enabled: Bool = true, adminIsDeveloper: Bool = false, on server: SharedServer? = nil) async throws -> RuleTenant {
        let shared: SharedServer = if let server { server } else { try await SharedServer.get() }
        let client = try await APIKeysClient.connect(
            host: shared.host, port: shared.port, credential: .operator(shared.operatorSecret))
        let id = "t-" + UUID().uuidString.lowercased().prefix(13).replacingOccurrences(of: "-", with: "")
        let tenant = RuleTenant(shared: shared, id: id, operator: client)
        _ = try await client.createTenant(APIKeysV1.CreateTenantRequest(tenantID: id, name: "Tenant \(id)"))
        _ = try await client.createUser(APIKeysV1.CreateUserRequest(
            tenantID: id, userID: tenant.admin, displayName: "Admin",
            roles: adminIsDeveloper ? [.tenantAdmin, .developer] : [.tenantAdmin], licensed: true))
        if enabled {
            _ = try await tenant.as(tenant.admin).updateSettings(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: true))
        }
        return tenant
    }

    /// The same tenant on a connection of its own.
    static func attach(to tenant: RuleTenant) async throws -> RuleTenant {
        try await attach(tenant: tenant.id, on: tenant.shared)
    }

    /// An existing tenant on `server` (e.g. after a restart), on a new connection.
    static func attach(tenant id: String, on server: SharedServer) async throws -> RuleTenant {
        let client = try await APIKeysClient.connect(host: server.host, port: server.port, credential: .operator(server.operatorSecret))
        return RuleTenant(shared: server, id: id, operator: client)
    }

    /// A client acting for `user` through the service credential (X13).
    func `as`(_ user: String) -> APIKeysClient {
        `operator`.acting(as: .service(shared.serviceSecret, tenant: id, user: user))
    }

    /// A client presenting an API key: acts as the key's owner (R1, X13).
    func bearer(_ secret: String) -> APIKeysClient {
        `operator`.acting(as: .apiKey(secret))
    }

    /// The internal service that verifies keys (X8).
    var verifier: APIKeysClient {
        `operator`.acting(as: .service(shared.serviceSecret))
    }

    /// The tenant admin through the console.
    var adminClient: APIKeysClient { self.as(admin) }

    /// The operator adds a user; by default a licensed developer.
    @discardableResult
    func addUser(_ user: String, roles: [APIKeysV1.Role] = [.developer], licensed: Bool = true) async throws -> APIKeysV1.User? {
        try await `operator`.createUser(APIKeysV1.CreateUserRequest(
            tenantID: id, userID: user, displayName: user.capitalized, roles: roles, licensed: licensed)).user
    }

    /// `user` generates a key; returns the key and its secret.
    func generate(
        _ user: String, name: String = "key", expiry: APIKeysV1.GenerateKeyRequest.Expiry? = nil
    ) async throws -> (key: APIKeysV1.ApiKey, secret: String) {
        let response = try await self.as(user).generateKey(APIKeysV1.GenerateKeyRequest(name: name, expiry: expiry))
        let key = try #require(response.key)
        return (key, response.secret)
    }

    func settings(_ update: APIKeysV1.UpdateSettingsRequest) async throws -> APIKeysV1.TenantSettings {
        try #require(try await adminClient.updateSettings(update).settings)
    }

    func key(_ id: String) async throws -> APIKeysV1.ApiKey {
        try #require(try await adminClient.getKey(APIKeysV1.GetKeyRequest(keyID: id)).key)
    }

    /// Every event of the tenant matching `request`'s filters, newest first, through all pages.
    func events(_ request: APIKeysV1.ListEventsRequest = APIKeysV1.ListEventsRequest()) async throws -> [APIKeysV1.Event] {
        var request = request
        request.pageSize = 100
        var all: [APIKeysV1.Event] = []
        while true {
            let page = try await adminClient.listEvents(request)
            all += page.events
            if page.nextPageToken.isEmpty { return all }
            request.pageToken = page.nextPageToken
        }
    }

    /// Polls the events until `predicate` holds: verify-side events reach the store at the
    /// next usage flush (X9).
    func eventually(
        _ request: APIKeysV1.ListEventsRequest = APIKeysV1.ListEventsRequest(), timeout: Duration = .seconds(5),
        _ predicate: ([APIKeysV1.Event]) -> Bool
    ) async throws -> [APIKeysV1.Event] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let events = try await events(request)
            if predicate(events) || ContinuousClock.now >= deadline { return events }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Every key the admin sees matching `request`, through all pages.
    func allKeys(_ request: APIKeysV1.ListKeysRequest = APIKeysV1.ListKeysRequest(), as user: String? = nil) async throws -> [APIKeysV1.ApiKey] {
        var request = request
        request.pageSize = 100
        var all: [APIKeysV1.ApiKey] = []
        let client = self.as(user ?? admin)
        while true {
            let page = try await client.listKeys(request)
            all += page.keys
            if page.nextPageToken.isEmpty { return all }
            request.pageToken = page.nextPageToken
        }
    }

    func close() async { await `operator`.close() }
}

/// Runs `body`, which must fail with `code` and `APIKeysV1.ErrorDetails{rule, reason}`; returns the error.
@discardableResult
func expectRefused<T>(
    _ code: StatusCode, rule: String?, reason: String?, _ comment: Comment? = nil,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () async throws -> T
) async -> RPCError? {
    do {
        let value = try await body()
        Issue.record("expected \(code) [\(rule ?? "-") \(reason ?? "-")], got a success: \(value)", sourceLocation: sourceLocation)
        return nil
    } catch let error as RPCError {
        #expect(error.code == code, "\(error) \(comment ?? "")", sourceLocation: sourceLocation)
        let details = error.errorDetails
        if let rule { #expect(details?.rule == rule, "\(error) \(String(describing: details))", sourceLocation: sourceLocation) }
        if let reason { #expect(details?.reason == reason, "\(error) \(String(describing: details))", sourceLocation: sourceLocation) }
        return error
    } catch {
        Issue.record("expected RPCError \(code), got \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// The server's clock and ours are the same machine's: Unix milliseconds now.
func nowMs() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

/// Whether `bytes` (any serialized response, a file) holds the secret or its random part (X7, R18).
func leaks(_ secret: String, in bytes: [UInt8]) -> Bool {
    contains(Array(secret.utf8), in: bytes) || contains(Array(secret.utf8.dropFirst(24).prefix(43)), in: bytes)
}

func contains(_ needle: [UInt8], in bytes: [UInt8]) -> Bool {
    !needle.isEmpty && Data(bytes).range(of: Data(needle)) != nil
}

extension Array where Element == APIKeysV1.Event {
    func with(action: String, key: String? = nil) -> [APIKeysV1.Event] {
        filter { $0.action == action && (key == nil || $0.keyID == key) }
    }
}
