import NIOCore
import NIOPosix
import Synchronization

/// A TCP connection that sends exactly the bytes it is given and records every byte the
/// server sends until it closes: for the hostile-input cases.
final class RawConnection: Sendable {
    private let channel: any Channel
    private let collector: Collector

    private init(channel: any Channel, collector: Collector) {
        self.channel = channel
        self.collector = collector
    }

    static func connect(host: String, port: Int) async throws -> RawConnection {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(CollectingHandler(collector)) }
            }
            .connect(host: host, port: port).get()
        return RawConnection(channel: channel, collector: collector)
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(channel.allocator.buffer(bytes: bytes))
    }

    /// Waits until the server closes the connection or `timeout` passes; returns whether it closed.
    func waitForClose(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while channel.isActive, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return !channel.isActive
    }

    /// Waits until at least `count` bytes arrived or `timeout` passes.
    func waitForBytes(_ count: Int, timeout: Duration) async -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        while collector.bytes.count < count, channel.isActive, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(5))
        }
        return collector.bytes
    }

    var received: [UInt8] { collector.bytes }

    func close() async {
        try? await channel.close()
    }
}

private final class Collector: Sendable {
    private let storage = Mutex<[UInt8]>([])
    var bytes: [UInt8] { storage.withLock { $0 } }
    func append(_ buffer: ByteBuffer) { storage.withLock { $0.append(contentsOf: buffer.readableBytesView) } }
}

private final class CollectingHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    private let collector: Collector

    init(_ collector: Collector) {
        self.collector = collector
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        collector.append(unwrapInboundIn(data))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
