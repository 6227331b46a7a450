import APIKeysWire

/// `apikeys.v1.Conformance`: the test service the conformance suite needs (echo a status,
/// sleep, sized payloads, echo metadata). Registered only with `--conformance`.
struct ConformanceService: APIKeysV1.ConformanceHandler {
    func empty(_ request: APIKeysV1.EmptyMessage, call: ServerCall) async throws -> APIKeysV1.EmptyMessage {
        APIKeysV1.EmptyMessage()
    }

    func echo(_ request: APIKeysV1.EchoRequest, call: ServerCall) async throws -> APIKeysV1.EchoResponse {
        if request.sleepMillis > 0 {
            try await Task.sleep(for: .milliseconds(Int(request.sleepMillis)))
        }
        if request.statusCode != 0 {
            guard (1...16).contains(request.statusCode) else {
                throw RPCError(code: .invalidArgument, message: "status_code must be a gRPC code from 1 to 16, got \(request.statusCode)")
            }
            throw RPCError(code: StatusCode(rawValue: request.statusCode), message: request.statusMessage)
        }
        return APIKeysV1.EchoResponse(
            payload: [UInt8](repeating: 0x61, count: Int(request.responseSize)),
            metadata: request.echoMetadata ? call.metadata : [:],
            callsInFlight: UInt32(call.callsInFlight))
    }
}
