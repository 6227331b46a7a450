@testable import APIKeysWire
import Testing

@Suite("RPCRouter")
struct RPCRouterTests {
    struct SecretError: Error, CustomStringConvertible {
        var description: String { "database password is hunter2" }
    }

    static var router: RPCRouter {
        var router = RPCRouter()
        router.register("/apikeys.v1.Keys/Get") { (_: APIKeysV1.GetKeyRequest, _) in APIKeysV1.GetKeyResponse() }
        router.registerNonBlocking("/apikeys.v1.Health/Check") { (_: APIKeysV1.HealthCheckRequest, _) in
            APIKeysV1.HealthCheckResponse(status: .serving)
        }
        return router
    }

    static func error(for method: String) -> RPCError? {
        if case .failure(let error) = router.handler(for: method) { return error }
        return nil
    }

    static let call = ServerCall(callID: 1, method: "/x.Y/Z", metadata: [:], deadline: nil, callsInFlight: 1)

    @Test("registered methods are listed, sorted")
    func methods() {
        #expect(Self.router.methods == ["/apikeys.v1.Health/Check", "/apikeys.v1.Keys/Get"])
    }

    @Test("a registered method is found")
    func found() {
        guard case .success(.sync) = Self.router.handler(for: "/apikeys.v1.Health/Check") else {
            Issue.record("the non-blocking handler was not found as sync")
            return
        }
        guard case .success(.async) = Self.router.handler(for: "/apikeys.v1.Keys/Get") else {
            Issue.record("the handler was not found as async")
            return
        }
    }

    @Test("an unknown method of a known service is UNIMPLEMENTED naming the method")
    func unknownMethod() throws {
        let error = try #require(Self.error(for: "/apikeys.v1.Keys/Explode"))
        #expect(error.code == .unimplemented)
        #expect(error.message == "service apikeys.v1.Keys has no method 'Explode'")
    }

    @Test("an unknown service is UNIMPLEMENTED naming the service")
    func unknownService() throws {
        let error = try #require(Self.error(for: "/apikeys.v1.Nope/Get"))
        #expect(error.code == .unimplemented)
        #expect(error.message == "unknown service apikeys.v1.Nope")
    }

    @Test("a malformed path is UNIMPLEMENTED saying so",
          arguments: ["", "/", "//", "apikeys.v1.Keys/Get", "/apikeys.v1.Keys", "/apikeys.v1.Keys/", "//Get",
                      "/apikeys.v1.Keys/Get/extra", "/apikeys.v1.Keys//Get"])
    func malformedPath(path: String) throws {
        let error = try #require(Self.error(for: path))
        #expect(error.code == .unimplemented)
        #expect(error.message.contains("is not a method path"))
    }

    @Test("the three UNIMPLEMENTED messages differ")
    func distinctMessages() {
        let messages = Set(["/apikeys.v1.Keys/Explode", "/other.S/M", "nonsense"].compactMap { Self.error(for: $0)?.message })
        #expect(messages.count == 3)
    }

    @Test("X16: each UNIMPLEMENTED message quotes at most 128 bytes of a 1 MiB method path", arguments: [
        "/apikeys.v1.Keys/" + String(repeating: "m", count: 1 << 20),
        "/" + String(repeating: "s", count: 1 << 20) + "/M",
        String(repeating: "x", count: 1 << 20),
    ])
    func boundedEcho(path: String) throws {
        let error = try #require(Self.error(for: path))
        #expect(error.code == .unimplemented)
        // The fixed words of the longest message plus 128 quoted bytes and the cut note.
        #expect(error.message.utf8.count <= 128 + 100, "\(error.message)")
        #expect(error.message.contains("…(cut, "))
    }

    @Test("method lookup is exact (case-sensitive)")
    func caseSensitive() {
        #expect(Self.error(for: "/apikeys.v1.keys/Get")?.message == "unknown service apikeys.v1.keys")
        #expect(Self.error(for: "/apikeys.v1.Keys/get")?.code == .unimplemented)
    }

    @Test("an RPCError from a handler passes through unchanged")
    func rpcErrorPassesThrough() {
        let error = RPCError(code: .permissionDenied, message: "not yours", rule: "R8", reason: "not_owner")
        #expect(RPCRouter.status(for: error) == error)
        #expect(RPCRouter.status(for: error).details == error.details)
    }

    @Test("a WireError from a handler is INVALID_ARGUMENT")
    func wireErrorIsInvalidArgument() {
        let status = RPCRouter.status(for: WireError(code: .malformedMessage, message: "the bytes are not a valid X"))
        #expect(status.code == .invalidArgument)
        #expect(status.message.contains("the bytes are not a valid X"))
    }

    @Test("any other error is INTERNAL without its text")
    func otherErrorIsInternal() {
        let status = RPCRouter.status(for: SecretError())
        #expect(status.code == .internal)
        #expect(!status.message.contains("hunter2"))
        #expect(!status.message.contains("SecretError"))
        #expect(status.details.isEmpty)
    }

    @Test("cancellation is CANCELLED")
    func cancellation() {
        #expect(RPCRouter.status(for: CancellationError()).code == .cancelled)
    }

    @Test("a registered handler decodes its input and encodes its output")
    func handlerCodec() throws {
        guard case .success(.sync(let body)) = Self.router.handler(for: "/apikeys.v1.Health/Check") else {
            Issue.record("no sync handler")
            return
        }
        // The lent array's old contents are replaced, not appended to.
        var output: [UInt8] = [0xFF, 0xFF, 0xFF]
        try body([], Self.call, &output)
        #expect(try APIKeysV1.HealthCheckResponse(serializedBytes: output) == APIKeysV1.HealthCheckResponse(status: .serving))
    }

    @Test("a registered handler given bad bytes throws a WireError, which maps to INVALID_ARGUMENT")
    func handlerBadInput() throws {
        guard case .success(.sync(let body)) = Self.router.handler(for: "/apikeys.v1.Health/Check") else {
            Issue.record("no sync handler")
            return
        }
        var output: [UInt8] = []
        let error = #expect(throws: WireError.self) { try body([0xFF, 0xFF], Self.call, &output) }
        #expect(error.map { RPCRouter.status(for: $0).code } == .invalidArgument)
    }

    @Test("an async handler runs with its call")
    func asyncHandler() async throws {
        var router = RPCRouter()
        router.register("/t.T/Echo") { (request: APIKeysV1.EchoRequest, call: ServerCall) in
            APIKeysV1.EchoResponse(payload: request.payload, metadata: call.metadata, callsInFlight: UInt32(call.callsInFlight))
        }
        guard case .success(.async(let body)) = router.handler(for: "/t.T/Echo") else {
            Issue.record("no async handler")
            return
        }
        let call = ServerCall(callID: 3, method: "/t.T/Echo", metadata: ["k": "v"], deadline: nil, callsInFlight: 4)
        let output = try await body(APIKeysV1.EchoRequest(payload: [1, 2]).serializedBytes(), call)
        #expect(try APIKeysV1.EchoResponse(serializedBytes: output) == APIKeysV1.EchoResponse(payload: [1, 2], metadata: ["k": "v"], callsInFlight: 4))
    }
}
