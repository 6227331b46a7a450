import APIKeysClient
@testable import APIKeysServer
import APIKeysWire
import Testing

/// The Swift service surface generated from proto/ (issue 12): descriptors, the role table
/// keyed by them, the server's routes and the typed client's per-call options.
@Suite("Generated service surface (issue 12)")
struct ServiceSurfaceTests {
    /// The methods that perform no domain operation, so have no row in MethodTable.
    static let withoutOperation: Set<RPCMethod> = [
        APIKeysV1.Health.Method.check.rpc,  // needs no credential
        APIKeysV1.Conformance.Method.empty.rpc,  // test service, only with --conformance
        APIKeysV1.Conformance.Method.echo.rpc,
    ]

    @Test("issue 12: the role table covers exactly the proto's methods but Health and Conformance")
    func roleTableCoversTheProto() {
        let expected = Set(APIKeysV1.allMethods).subtracting(Self.withoutOperation)
        let table = Set(MethodTable.operations.keys)
        #expect(table == expected, "missing: \(expected.subtracting(table)), extra: \(table.subtracting(expected))")
        #expect(Set(APIRoutes.services.joined()) == expected)
    }

    @Test("issue 12: descriptors carry the proto's paths and idempotency levels")
    func descriptorsMatchTheProto() {
        #expect(APIKeysV1.allMethods.count == 27)
        #expect(Set(APIKeysV1.allMethods.map(\.path)).count == APIKeysV1.allMethods.count)
        for method in APIKeysV1.allMethods {
            #expect(method.path == "/\(method.service)/\(method.name)")
            #expect(method.service.hasPrefix(APIKeysV1.package + "."))
        }
        #expect(APIKeysV1.Keys.Method.revokeMany.path == "/apikeys.v1.Keys/RevokeMany")
        #expect(APIKeysV1.Verification.Method.verify.idempotency == .idempotent)
        #expect(APIKeysV1.Keys.Method.list.idempotency == .noSideEffects)
        #expect(APIKeysV1.Keys.Method.generate.idempotency == .unknown)
    }

    @Test("issue 12: the real server routes every generated method")
    func everyMethodIsRouted() async throws {
        let shared = try await SharedServer.get()
        let connection = try await RPCConnection.connect(host: shared.host, port: shared.port)
        defer { Task { await connection.close() } }
        for method in APIKeysV1.allMethods {
            // An empty message is every request with default fields; no credential.
            do {
                _ = try await connection.call(method.path, message: [], timeout: .seconds(10))
            } catch let error as RPCError {
                #expect(error.code != .unimplemented, "\(method): \(error)")
            }
        }
    }

    @Test("issue 12: per-call metadata goes over the credential's")
    func perCallMetadata() async throws {
        let shared = try await SharedServer.get()
        let client = try await APIKeysClient.connect(host: shared.host, port: shared.port, credential: .service("s3cr3t", tenant: "t1"))
        defer { Task { await client.close() } }
        let reply = try await client.invoke(
            APIKeysV1.Conformance.Method.echo, APIKeysV1.EchoRequest(echoMetadata: true),
            options: CallOptions(metadata: ["x-request-id": "r-1", "x-tenant-id": "t2"]))
        #expect(reply.metadata["authorization"] == "Service s3cr3t")
        #expect(reply.metadata["x-request-id"] == "r-1")
        #expect(reply.metadata["x-tenant-id"] == "t2")
    }

    @Test("issue 12: a per-call timeout and deadline bound the call")
    func perCallTimeoutAndDeadline() async throws {
        let shared = try await SharedServer.get()
        let client = try await APIKeysClient.connect(host: shared.host, port: shared.port)
        defer { Task { await client.close() } }
        let slow = APIKeysV1.EchoRequest(sleepMillis: 5_000)
        let started = ContinuousClock.now
        await #expect { try await client.invoke(APIKeysV1.Conformance.Method.echo, slow, options: CallOptions(timeout: .milliseconds(100))) }
            throws: { ($0 as? RPCError)?.code == .deadlineExceeded }
        await #expect { try await client.invoke(APIKeysV1.Conformance.Method.echo, slow, options: CallOptions(deadline: .now + .milliseconds(100))) }
            throws: { ($0 as? RPCError)?.code == .deadlineExceeded }
        #expect(ContinuousClock.now - started < .seconds(4))
        // A deadline already passed fails before anything is sent.
        await #expect { try await client.health(options: CallOptions(deadline: .now - .seconds(1))) }
            throws: { ($0 as? RPCError)?.code == .deadlineExceeded }
        #expect(try await client.health().status == .serving)
    }
}
