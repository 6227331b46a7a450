import APIKeysWire

/// Well-behaved calls: gRPC interop's empty_unary, large_unary, status round trip,
/// unimplemented, cancel, timeout, concurrency and soak cases.
enum CallCases {
    static let empty = APIKeysV1.Conformance.Method.empty.path
    static let echo = APIKeysV1.Conformance.Method.echo.path

    static let all: [ConformanceCase] = [
        ConformanceCase("empty call") { target in
            let connection = try await ConformanceSuite.connect(target)
            defer { Task { await connection.close() } }
            let reply: APIKeysV1.EmptyMessage = try await connection.call(empty, APIKeysV1.EmptyMessage())
            try expect(reply == APIKeysV1.EmptyMessage(), "the empty call returned \(reply)")
        },
        ConformanceCase("health check") { target in
            try await ConformanceSuite.expectServerHealthy(target)
        },
        ConformanceCase("metadata echo") { target in
            let connection = try await ConformanceSuite.connect(target)
            defer { Task { await connection.close() } }
            let metadata = ["x-test": "value ☺", "x-other": ""]
            let reply: APIKeysV1.EchoResponse = try await connection.call(echo, APIKeysV1.EchoRequest(echoMetadata: true), metadata: metadata)
            try expect(reply.metadata == metadata, "metadata came back as \(reply.metadata)")
        },
        ConformanceCase("sized response payload") { target in
            let connection = try await ConformanceSuite.connect(target)
            defer { Task { await connection.close() } }
            let reply: APIKeysV1.EchoResponse = try await connection.call(echo, APIKeysV1.EchoRequest(responseSize: 314_159))
            try expect(reply.payload.count == 314_159, "the payload had \(reply.payload.count) bytes")
        },
        ConformanceCase("payload just under the max frame size") { target in
            let connection = try await ConformanceSuite.connect(target)
            defer { Task { await connection.close() } }
            let max = Int(connection.serverSettings.maxFrameSize)
            let request = echoRequest(bodySize: max - 8)
            let reply: APIKeysV1.EchoResponse = try await connection.call(echo, request, timeout: .seconds(30))
            try expect(reply.payload.isEmpty, "unexpected payload")
        },
        ConformanceCase("payload just over the max frame size") { target in
            let connection = try await ConformanceSuite.connect(target)
            let max = Int(connection.serverSettings.maxFrameSize)
            let error = try await expectError {
                try await connection.call(echo, echoRequest(bodySize: max + 8), timeout: .seconds(30), as: APIKeysV1.EchoResponse.self)
            }
            try expect(error.code == .unavailable, "a frame over the limit got \(error), not the connection closed")
            try expect(error.message.contains("exceeds the maximum"), "the GOAWAY did not say why: \(error.message)")
            await connection.close()
            try await ConformanceSuite.expectServerHealthy(target)
        },
        ConformanceCase("status code and message round trip") { target in
            let connection = try await ConformanceSuite.connect(target)
            defer { Task { await connection.close() } }
            let message = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"
            let error = try await expectError {
                try await connection.call(echo, APIKeysV1.EchoRequest(statusCode: 2, statusMessage: message), as: APIKeysV1.EchoResponse.self)
            }
            try expect(error.code == .unknown, "status came back as \(error.code)")
            try expect(error.message == message, "message came back as \(error.message.debugDescription)")
        },
        ConformanceCase("unimplemented method") { target in
            let connection = try await ConformanceSuite.connect(target)
            defer { Task { await connection.close() } }
            let error = try await expectError {
                try await connection.call("/\(APIKeysV1.Conformance.name)/NoSuchMethod", APIKeysV1.EmptyMessage(), as: APIKeysV1.EmptyMessage.self)
            }
            try expect(error.code == .unimplemented, "got \(error)")
        },
        ConformanceCase("unimplemented service") { target in
            let connection = try await ConformanceSuite.connect(target)
            defer { Task { await connection.close() } }
            let error = try await expectError {
                try await connection.call("/\(APIKeysV1.package).NoSuchService/Method", APIKeysV1.EmptyMessage(), as: APIKeysV1.EmptyMessage.self)
            }
            try expect(error.code == .unimplemented, "got \(error)")
        },
        ConformanceCase("cancel right after sending") { target in
            let connection = try await ConformanceSuite.connect(target)
            defer { Task { await connection.close() } }
            let call = Task {
                try await connection.call(echo, APIKeysV1.EchoRequest(sleepMillis: 10_000), as: APIKeysV1.EchoResponse.self)
            }
            call.cancel()
            let error = try await expectError { try await call.value }
            try expect(error.code == .cancelled, "the cancelled call ended with \(error)")
            // The server stops the work: soon only our probe call is in flight.
            let deadline = ContinuousClock.now + .seconds(5)
            while true {
                let probe: APIKeysV1.EchoResponse = try await connection.call(echo, APIKeysV1.EchoRequest())
                if probe.callsInFlight <= 1 { break }
                try expect(ContinuousClock.now < deadline, "the cancelled call was still running on the server")
                try await Task.sleep(for: .milliseconds(20))
            }
        },
        ConformanceCase("1 ms timeout on a sleeping handler") { target in
            let connection = try await ConformanceSuite.connect(target)
            defer { Task { await connection.close() } }
            let start = ContinuousClock.now
            let error = try await expectError {
                try await connection.call(echo, APIKeysV1.EchoRequest(sleepMillis: 2_000), timeout: .milliseconds(1), as: APIKeysV1.EchoResponse.self)
            }
            try expect(error.code == .deadlineExceeded, "got \(error)")
            try expect(ContinuousClock.now - start < .seconds(1), "the deadline took \(ContinuousClock.now - start) to fire")
            // The server answered DEADLINE_EXCEEDED itself: check with a call whose timeout the server sees first.
            let frame = try? await connection.call(echo, message: APIKeysV1.EchoRequest(sleepMillis: 2_000).serializedBytes(), timeout: .milliseconds(200))
            try expect(frame == nil, "a call past its deadline succeeded")
        },
        ConformanceCase("1000 concurrent calls on one connection") { target in
            let connection = try await ConformanceSuite.connect(target)
            defer { Task { await connection.close() } }
            let results = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<1000 {
                    group.addTask {
                        let reply: APIKeysV1.EchoResponse = try await connection.call(echo, APIKeysV1.EchoRequest(responseSize: UInt32(i % 64)))
                        return reply.payload.count == i % 64 ? 1 : 0
                    }
                }
                return try await group.reduce(0, +)
            }
            try expect(results == 1000, "\(1000 - results) of 1000 calls returned the wrong payload")
        },
        ConformanceCase("10000 sequential calls on one connection") { target in
            let connection = try await ConformanceSuite.connect(target)
            defer { Task { await connection.close() } }
            for i in 0..<10_000 {
                let reply: APIKeysV1.EmptyMessage = try await connection.call(empty, APIKeysV1.EmptyMessage())
                try expect(reply == APIKeysV1.EmptyMessage(), "call \(i) returned \(reply)")
            }
        },
        ConformanceCase("concurrent calls limit") { target in
            let connection = try await ConformanceSuite.connect(target, respectServerLimit: false)
            defer { Task { await connection.close() } }
            let limit = Int(connection.serverSettings.maxConcurrentCalls)
            let extra = 20
            let codes = try await withThrowingTaskGroup(of: StatusCode.self) { group in
                for _ in 0..<(limit + extra) {
                    group.addTask {
                        do {
                            let _: APIKeysV1.EchoResponse = try await connection.call(echo, APIKeysV1.EchoRequest(sleepMillis: 500), timeout: .seconds(30))
                            return .ok
                        } catch let error as RPCError {
                            return error.code
                        }
                    }
                }
                return try await group.reduce(into: [StatusCode: Int]()) { $0[$1, default: 0] += 1 }
            }
            try expect(codes[.ok] == limit && codes[.resourceExhausted] == extra,
                       "with a limit of \(limit), \(limit + extra) calls gave \(codes)")
            let reply: APIKeysV1.EmptyMessage = try await connection.call(empty, APIKeysV1.EmptyMessage())
            try expect(reply == APIKeysV1.EmptyMessage(), "the connection did not recover")
        },
    ]

    /// An Echo request whose request frame body is `bodySize` bytes, give or take the
    /// 3 bytes the call ID's varint may differ by.
    static func echoRequest(bodySize: Int) -> APIKeysV1.EchoRequest {
        func body(_ payload: Int) -> Int {
            let request = RequestFrame(callID: 1 << 20, method: echo,
                                       message: APIKeysV1.EchoRequest(payload: [UInt8](repeating: 7, count: payload)).serializedBytes())
            return FrameCodec.encode(.request(request)).count - FrameCodec.lengthPrefixSize
        }
        var payload = max(0, bodySize - 64)
        // Varint lengths make the overhead depend on the size: settle on the exact size.
        for _ in 0..<8 where body(payload) != bodySize {
            payload += bodySize - body(payload)
        }
        return APIKeysV1.EchoRequest(payload: [UInt8](repeating: 7, count: payload))
    }
}
