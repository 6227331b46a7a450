@testable import APIKeysWire
import NIOCore
import Synchronization
import Testing

/// Holds the client's event loop inside `ClientConnectionHandler.start`, at the moment the
/// request is written (after the call is registered, before `RPCConnection.call` records
/// its ID), until the test releases it.
final class WriteWindow: Sendable {
    private let state = Mutex<(armed: Bool, inside: Bool, released: Bool)>((false, false, false))

    func arm() { state.withLock { $0.armed = true } }
    var inside: Bool { state.withLock { $0.inside } }
    func release() { state.withLock { $0.released = true } }

    /// Called on the event loop for every write.
    func pass() {
        let hold = state.withLock { state -> Bool in
            guard state.armed else { return false }
            state.armed = false
            state.inside = true
            return true
        }
        guard hold else { return }
        let deadline = ContinuousClock.now + .seconds(2)
        while !state.withLock({ $0.released }), ContinuousClock.now < deadline {}
    }

    final class Handler: ChannelOutboundHandler {
        typealias OutboundIn = ByteBuffer
        let window: WriteWindow
        init(_ window: WriteWindow) { self.window = window }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            window.pass()
            context.write(data, promise: promise)
        }
    }
}

@Suite("RPCConnection", .timeLimit(.minutes(1)))
struct RPCConnectionTests {
    /// The connection's channel, to put a test handler in its pipeline.
    static func channel(of connection: RPCConnection) throws -> any Channel {
        try #require(Mirror(reflecting: connection).children.first { $0.label == "channel" }?.value as? any Channel)
    }

    @Test("a task cancelled while its request is being sent still ends the call (the Cancel is not lost)")
    func cancelWhileStarting() async throws {
        try await TestServer.with { server, connection in
            let window = WriteWindow()
            let channel = try Self.channel(of: connection)
            try await channel.eventLoop.submit {
                try channel.pipeline.syncOperations.addHandler(WriteWindow.Handler(window), position: .first)
            }.get()

            let finished = Counter()
            window.arm()
            let task = Task {
                // The server handler sleeps 20 s unless the call is cancelled.
                _ = try? await connection.call("/test.Wire/Echo", APIKeysV1.EchoRequest(sleepMillis: 20_000), as: APIKeysV1.EchoResponse.self)
                finished.increment()
            }
            await eventually("the request to be in the write") { window.inside }
            task.cancel()
            window.release()

            await eventually(timeout: .seconds(2), "the cancelled call to finish") { finished.count == 1 }
            await eventually(timeout: .seconds(2), "the server to see the cancel") { server.probe.cancelledIDs.count == 1 }
        }
    }

    @Test("cancelling calls at many moments finishes every one of them")
    func cancelAtManyMoments() async throws {
        try await TestServer.with { _, connection in
            let finished = Counter()
            let iterations = 200
            for i in 0..<iterations {
                let task = Task {
                    _ = try? await connection.call("/test.Wire/Echo", APIKeysV1.EchoRequest(sleepMillis: 20_000), as: APIKeysV1.EchoResponse.self)
                    finished.increment()
                }
                // Spread the cancel over the moments the call is being started on the event loop.
                let spin = ContinuousClock.now + .nanoseconds((i % 40) * 2_500)
                while ContinuousClock.now < spin {}
                task.cancel()
            }
            await eventually(timeout: .seconds(3), "every cancelled call to finish") { finished.count == iterations }
            #expect(finished.count == iterations)
        }
    }
}

final class Counter: Sendable {
    private let value = Mutex(0)
    func increment() { value.withLock { $0 += 1 } }
    var count: Int { value.withLock { $0 } }
}
