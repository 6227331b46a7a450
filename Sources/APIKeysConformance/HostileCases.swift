import APIKeysWire

/// Bytes no honest client sends. Each must get a clear GOAWAY or status, and the server
/// must keep serving other connections afterwards.
enum HostileCases {
    static let all: [ConformanceCase] = [
        ConformanceCase("hostile: random bytes instead of a preface") { target in
            var bytes = (0..<256).map { _ in UInt8.random(in: 0...255) }
            bytes[0] = 0x00  // never the preface's 'A'
            try await expectGoAway(target, sending: bytes, reason: .protocolError)
        },
        ConformanceCase("hostile: wrong preface") { target in
            try await expectGoAway(target, sending: Array("APIKEYX".utf8) + [1], reason: .protocolError)
        },
        ConformanceCase("hostile: HTTP request instead of a preface") { target in
            try await expectGoAway(target, sending: Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8), reason: .protocolError)
        },
        ConformanceCase("hostile: unsupported protocol version") { target in
            try await expectGoAway(target, sending: Array("APIKEYS".utf8) + [0x7F], reason: .unsupportedVersion)
        },
        ConformanceCase("hostile: 4 GiB length prefix") { target in
            try await expectGoAway(target, sending: Preface.bytes + [0xFF, 0xFF, 0xFF, 0xFF], reason: .frameTooLarge)
        },
        ConformanceCase("hostile: undecodable frame body") { target in
            try await expectGoAway(target, sending: Preface.bytes + [0, 0, 0, 4, 0xFF, 0xFF, 0xFF, 0xFF], reason: .protocolError)
        },
        ConformanceCase("hostile: frame with no kind") { target in
            try await expectGoAway(target, sending: Preface.bytes + [0, 0, 0, 0], reason: .protocolError)
        },
        ConformanceCase("hostile: decreasing call IDs") { target in
            let first = FrameCodec.encode(.request(RequestFrame(callID: 5, method: CallCases.empty)))
            let second = FrameCodec.encode(.request(RequestFrame(callID: 3, method: CallCases.empty)))
            try await expectGoAway(target, sending: Preface.bytes + first + second, reason: .protocolError)
        },
        ConformanceCase("hostile: frame cut off midway") { target in
            let frame = FrameCodec.encode(.request(RequestFrame(callID: 1, method: CallCases.empty, message: [UInt8](repeating: 1, count: 1000))))
            let raw = try await RawConnection.connect(host: target.host, port: target.port)
            try await raw.send(Preface.bytes + frame.prefix(frame.count / 2))
            _ = await raw.waitForBytes(1, timeout: .seconds(2))  // the settings frame
            await raw.close()
            try await ConformanceSuite.expectServerHealthy(target)
        },
        ConformanceCase("hostile: garbage request message fails that call alone") { target in
            let connection = try await ConformanceSuite.connect(target)
            defer { Task { await connection.close() } }
            let error = try await expectError {
                try await connection.call(CallCases.echo, message: [0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
            }
            try expect(error.code == .invalidArgument, "garbage got \(error)")
            let reply: APIKeysV1.EmptyMessage = try await connection.call(CallCases.empty, APIKeysV1.EmptyMessage())
            try expect(reply == APIKeysV1.EmptyMessage(), "the connection did not survive")
        },
        ConformanceCase("hostile: a connection that sends nothing") { target in
            let raw = try await RawConnection.connect(host: target.host, port: target.port)
            let closed = await raw.waitForClose(timeout: target.silenceTimeout)
            try expect(closed, "the server kept a silent connection open for \(target.silenceTimeout)")
            try expectGoAwayIn(raw.received, reason: .handshakeTimeout)
            try await ConformanceSuite.expectServerHealthy(target)
        },
        ConformanceCase("hostile: preface then nothing until the idle timeout") { target in
            let raw = try await RawConnection.connect(host: target.host, port: target.port)
            try await raw.send(Preface.bytes)
            let settingsBytes = await raw.waitForBytes(8, timeout: .seconds(5))
            guard case .settings(let settings)? = try FrameCodec.frames(in: settingsBytes).first else {
                throw ConformanceFailure(message: "no settings frame after the preface")
            }
            let idle = Duration.milliseconds(Int(settings.idleTimeoutMillis))
            let closed = await raw.waitForClose(timeout: idle + .seconds(5))
            try expect(closed, "the server kept an idle connection open past its idle timeout of \(idle)")
            let goAway = try FrameCodec.frames(in: raw.received).last
            guard case .goAway(let frame)? = goAway, frame.reason == .idleTimeout || frame.reason == .keepaliveTimeout else {
                throw ConformanceFailure(message: "expected a GOAWAY for idleness, got \(String(describing: goAway))")
            }
            try await ConformanceSuite.expectServerHealthy(target)
        },
    ]

    static func expectGoAway(_ target: ConformanceTarget, sending bytes: [UInt8], reason: GoAwayFrame.Reason) async throws {
        let raw = try await RawConnection.connect(host: target.host, port: target.port)
        try await raw.send(bytes)
        let closed = await raw.waitForClose(timeout: .seconds(5))
        try expect(closed, "the server did not close the connection")
        try expectGoAwayIn(raw.received, reason: reason)
        try await ConformanceSuite.expectServerHealthy(target)
    }

    static func expectGoAwayIn(_ bytes: [UInt8], reason: GoAwayFrame.Reason) throws {
        let frames = try FrameCodec.frames(in: bytes)
        guard case .goAway(let goAway)? = frames.last else {
            throw ConformanceFailure(message: "expected a GOAWAY (\(reason)), got \(frames)")
        }
        try expect(goAway.reason == reason, "GOAWAY said \(goAway.reason) (\(goAway.message)), expected \(reason)")
        try expect(!goAway.message.isEmpty, "the GOAWAY does not say why")
    }
}
