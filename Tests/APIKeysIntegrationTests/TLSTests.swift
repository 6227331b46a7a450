import APIKeysClient
import APIKeysDomain
import APIKeysServer
import APIKeysWire
import Testing

/// TLS and mutual TLS against a real server, with certificates made for the run
/// (`TestCertificates`).
@Suite("TLS")
struct TLSTests {
    static let operatorSecret = String(repeating: "o", count: 40)

    /// A server with TLS; with `mutual`, clients need a certificate from the test CA; the SAN
    /// URI spiffe://example.org/gateway is service `gateway` (scope act) and
    /// spiffe://example.org/verifier is service `verifier` (scope verify).
    static func withServer(mutual: Bool, _ body: (TestServer, TestCertificates) async throws -> Void) async throws {
        let certificates = try await TestCertificates.shared()
        let server = try await TestServer.start { configuration in
            let server = certificates.server
            configuration.rpc.tls = mutual
                ? .mutual(certificateChain: server.certificate, privateKey: server.privateKey, trustRoots: certificates.ca)
                : .server(certificateChain: server.certificate, privateKey: server.privateKey)
            if mutual {
                configuration.certificateServices = [
                    .init(uri: TestCertificates.gatewayURI, name: "gateway", scope: .act),
                    .init(uri: TestCertificates.verifierURI, name: "verifier", scope: .verify),
                ]
            }
            configuration.operatorCredential = operatorSecret
        }
        do {
            try await body(server, certificates)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
    }

    static func connect(_ server: TestServer, _ tls: RPCConnection.Configuration.TLS?) async throws -> RPCConnection {
        var configuration = RPCConnection.Configuration()
        configuration.tls = tls
        return try await RPCConnection.connect(host: server.host, port: server.port, configuration: configuration)
    }

    static func health(_ connection: RPCConnection) async throws -> APIKeysV1.HealthCheckResponse {
        try await connection.call("/apikeys.v1.Health/Check", APIKeysV1.HealthCheckRequest(), as: APIKeysV1.HealthCheckResponse.self)
    }

    @Test("a plain client to a TLS server fails cleanly, and the server keeps serving")
    func plainClientFails() async throws {
        try await Self.withServer(mutual: false) { server, certificates in
            await #expect(throws: (any Error).self) { try await Self.connect(server, nil) }
            let connection = try await Self.connect(server, .server(trustRoots: certificates.ca))
            #expect(try await Self.health(connection).status == .serving)
            await connection.close()
        }
    }

    @Test("TLS: health works, checking the server by IP address or by name (SNI)")
    func health() async throws {
        try await Self.withServer(mutual: false) { server, certificates in
            for tls in [RPCConnection.Configuration.TLS.server(trustRoots: certificates.ca),
                        .server(trustRoots: certificates.ca, serverHostname: "localhost")] {
                let connection = try await Self.connect(server, tls)
                #expect(try await Self.health(connection).status == .serving)
                await connection.close()
            }
        }
    }

    @Test("TLS: a server certificate from roots the client does not trust is refused")
    func wrongTrustRoots() async throws {
        try await Self.withServer(mutual: false) { server, certificates in
            await #expect(throws: RPCError.self) { try await Self.connect(server, .server(trustRoots: certificates.otherCA)) }
            let connection = try await Self.connect(server, .server(trustRoots: certificates.ca))
            #expect(try await Self.health(connection).status == .serving)
            await connection.close()
        }
    }

    @Test("mutual TLS: no client certificate, or one from an untrusted CA, is refused")
    func mutualRefusals() async throws {
        try await Self.withServer(mutual: true) { server, certificates in
            await #expect(throws: (any Error).self) {
                let connection = try await Self.connect(server, .server(trustRoots: certificates.ca))
                // TLS 1.3: the client may finish its side before the server refuses.
                _ = try await Self.health(connection)
            }
            let untrusted = certificates.untrustedGateway
            await #expect(throws: (any Error).self) {
                let connection = try await Self.connect(server, .mutual(
                    certificateChain: untrusted.certificate, privateKey: untrusted.privateKey, trustRoots: certificates.ca))
                _ = try await Self.health(connection)
            }
            let gateway = certificates.gateway
            let connection = try await Self.connect(server, .mutual(
                certificateChain: gateway.certificate, privateKey: gateway.privateKey, trustRoots: certificates.ca))
            #expect(try await Self.health(connection).status == .serving)
            await connection.close()
        }
    }

    @Test("X13: a trusted certificate with the SAN URI of gateway acts as service gateway, alone or for a user")
    func certificateService() async throws {
        try await Self.withServer(mutual: true) { server, certificates in
            let gateway = certificates.gateway
            let client = try await APIKeysClient.connect(
                host: server.host, port: server.port, credential: .operator(Self.operatorSecret),
                tls: .mutual(certificateChain: gateway.certificate, privateKey: gateway.privateKey, trustRoots: certificates.ca))
            // An authorization value wins over the certificate: here, the operator's.
            _ = try await client.createTenant(APIKeysV1.CreateTenantRequest(tenantID: "acme", name: "Acme"))
            _ = try await client.createUser(APIKeysV1.CreateUserRequest(
                tenantID: "acme", userID: "alice", displayName: "Alice", roles: [.tenantAdmin, .developer], licensed: true))

            // No authorization, x-tenant-id and x-user-id: the service acts for alice.
            let alice = client.acting(as: .clientCertificate(tenant: "acme", user: "alice"))
            _ = try await alice.updateSettings(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: true))
            let generated = try await alice.generateKey(APIKeysV1.GenerateKeyRequest(name: "ci"))
            #expect(try await alice.getUser(APIKeysV1.GetUserRequest(userID: "alice")).user?.userID == "alice")

            // No metadata at all: the service itself, which may verify.
            let verified = try await client.acting(as: .clientCertificate()).verify(APIKeysV1.VerifyRequest(secret: generated.secret))
            #expect(verified.principal?.userID == "alice")
            #expect(verified.principal?.tenantID == "acme")
            await client.close()
        }
    }

    @Test("X13: a trusted certificate whose CN is not configured gets no identity")
    func unconfiguredCertificate() async throws {
        try await Self.withServer(mutual: true) { server, certificates in
            let stranger = certificates.stranger
            let client = try await APIKeysClient.connect(
                host: server.host, port: server.port,
                tls: .mutual(certificateChain: stranger.certificate, privateKey: stranger.privateKey, trustRoots: certificates.ca))
            #expect(try await client.health().status == .serving)
            let error = await #expect(throws: RPCError.self) { try await client.verify(APIKeysV1.VerifyRequest(secret: "aks_nothing")) }
            #expect(error?.code == .unauthenticated)
            #expect(error?.message.contains("no authorization") == true)
            await client.close()
        }
    }

    @Test("X18: a verify-scoped certificate service verifies but cannot act for a user")
    func verifyScopedCertificate() async throws {
        try await Self.withServer(mutual: true) { server, certificates in
            let verifier = certificates.verifier
            let client = try await APIKeysClient.connect(
                host: server.host, port: server.port, credential: .operator(Self.operatorSecret),
                tls: .mutual(certificateChain: verifier.certificate, privateKey: verifier.privateKey, trustRoots: certificates.ca))
            _ = try await client.createTenant(APIKeysV1.CreateTenantRequest(tenantID: "acme", name: "Acme"))
            _ = try await client.createUser(APIKeysV1.CreateUserRequest(tenantID: "acme", userID: "alice", roles: [.tenantAdmin], licensed: true))
            // The service is let through to the key check, which refuses the unknown key.
            let error = await #expect(throws: RPCError.self) {
                try await client.acting(as: .clientCertificate()).verify(APIKeysV1.VerifyRequest(secret: "aks_nothing"))
            }
            #expect(error?.code == .unauthenticated)
            #expect(error?.message.contains("no authorization") == false)
            await expectRefused(.permissionDenied, rule: "X18", reason: "scope_verify_only") {
                try await client.acting(as: .clientCertificate(tenant: "acme", user: "alice")).listUsers()
            }
            await client.close()
        }
    }

    @Test("mTLS (finding 7): CN=intern-laptop with SAN URI:gateway, or the URI spelled as a CN or DNS name, is no service")
    func identityOnlyByExactURI() async throws {
        try await Self.withServer(mutual: true) { server, certificates in
            let operatorClient = try await APIKeysClient.connect(
                host: server.host, port: server.port, credential: .operator(Self.operatorSecret),
                tls: .mutual(certificateChain: certificates.gateway.certificate, privateKey: certificates.gateway.privateKey,
                             trustRoots: certificates.ca))
            _ = try await operatorClient.createTenant(APIKeysV1.CreateTenantRequest(tenantID: "acme", name: "Acme"))
            _ = try await operatorClient.createUser(APIKeysV1.CreateUserRequest(tenantID: "acme", userID: "alice", roles: [.tenantAdmin], licensed: true))
            await operatorClient.close()
            for pair in [certificates.intern, certificates.lookalike, certificates.stranger] {
                let client = try await APIKeysClient.connect(
                    host: server.host, port: server.port,
                    tls: .mutual(certificateChain: pair.certificate, privateKey: pair.privateKey, trustRoots: certificates.ca))
                #expect(try await client.health().status == .serving)
                for caller in [client.acting(as: .clientCertificate(tenant: "acme", user: "alice")), client.acting(as: .clientCertificate())] {
                    await expectRefused(.unauthenticated, rule: nil, reason: "missing_credentials", "\(pair.certificate)") {
                        try await caller.listUsers()
                    }
                }
                await client.close()
            }
        }
    }

    @Test("a TLS file that cannot be read fails the start, naming the file")
    func missingFile() async throws {
        let certificates = try await TestCertificates.shared()
        let missing = certificates.directory + "/missing.pem"
        var configuration = RPCServerConfiguration()
        configuration.port = 0
        configuration.threads = 1
        configuration.tls = .server(certificateChain: missing, privateKey: certificates.server.privateKey)
        let server = RPCServer(router: RPCRouter(), configuration: configuration)
        let error = await #expect(throws: WireError.self) { _ = try await server.start() }
        #expect(error?.message.contains(missing) == true)
        await server.shutdown()
    }
}
