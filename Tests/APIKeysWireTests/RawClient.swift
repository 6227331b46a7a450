@testable import APIKeysWire
import NIOCore
import NIOPosix
import Synchronization

/// A bare TCP client for server tests: sends raw bytes and records every frame the
/// server writes and whether it closed the connection. No RPCConnection logic, except
/// answering pings when asked. It can also leave the server's output unread, or read it
/// in small pieces when told (backpressure tests).
final class RawClient: Sendable {
    final class Recorder: Sendable {
        private let state = Mutex<(frames: [Frame], closed: Bool)>(([], false))
        func append(_ frame: Frame) { state.withLock { $0.frames.append(frame) } }
        func markClosed() { state.withLock { $0.closed = true } }
        var frames: [Frame] { state.withLock { $0.frames } }
        var closed: Bool { state.withLock { $0.closed } }
    }

    final class Collector: ChannelInboundHandler {
        typealias InboundIn = FrameDecoder.Event
        typealias OutboundOut = ByteBuffer
        let recorder: Recorder
        let answerPings: Bool
        init(_ recorder: Recorder, answerPings: Bool) {
            self.recorder = recorder
            self.answerPings = answerPings
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .frame(let frame) = unwrapInboundIn(data) else { return }
            recorder.append(frame)
            if answerPings, case .ping(let data) = frame {
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: FrameCodec.encode(.pong(data)))), promise: nil)
            }
        }

        func channelInactive(context: ChannelHandlerContext) {
            recorder.markClosed()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    let channel: any Channel
    let recorder: Recorder

    private init(channel: any Channel, recorder: Recorder) {
        self.channel = channel
        self.recorder = recorder
    }

    /// How the client reads what the server sends.
    enum Reading {
        /// As fast as it comes.
        case eager
        /// Only at `readChunk()`, at most `chunk` bytes each time; a small receive buffer so
        /// the kernel holds little of the server's output for it.
        case manual(chunk: Int)
    }

    /// `group`: tests that move megabytes use their own, so other suites' clients are not
    /// kept waiting behind them.
    static func connect(port: Int, reading: Reading = .eager, answerPings: Bool = false,
                        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> RawClient {
        let recorder = Recorder()
        var bootstrap = ClientBootstrap(group: group)
        if case .manual(let chunk) = reading {
            bootstrap = bootstrap
                .channelOption(.autoRead, value: false)
                .channelOption(.maxMessagesPerRead, value: 1)
                .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: chunk))
                .channelOption(.socketOption(.so_rcvbuf), value: 16 * 1024)
                .channelOption(.socketOption(.so_sndbuf), value: 16 * 1024)
        }
        let channel = try await bootstrap
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(
                        FrameDecoder(expectPreface: false, maxFrameSize: 16 * 1024 * 1024)))
                    try channel.pipeline.syncOperations.addHandler(Collector(recorder, answerPings: answerPings))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawClient(channel: channel, recorder: recorder)
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
    }

    /// Writes `bytes` without waiting for the socket to take them.
    func write(_ bytes: [UInt8]) -> PendingWrite {
        let pending = PendingWrite()
        channel.writeAndFlush(ByteBuffer(bytes: bytes)).whenComplete { _ in pending.finish() }
        return pending
    }

    final class PendingWrite: Sendable {
        private let done = Mutex(false)
        func finish() { done.withLock { $0 = true } }
        /// The socket took every byte (or the write failed).
        var isDone: Bool { done.withLock { $0 } }
    }

    /// With `.manual` reading: reads one chunk of what the server sent, if any.
    func readChunk() {
        channel.read()
    }

    /// With `.manual` reading: from now on reads everything, eagerly.
    func readEverything() async throws {
        try await channel.setOption(.autoRead, value: true)
        channel.read()
    }

    var frames: [Frame] { recorder.frames }
    var closed: Bool { recorder.closed }

    func close() async {
        try? await channel.close()
    }
}
