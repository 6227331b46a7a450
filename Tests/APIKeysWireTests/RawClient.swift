@testable import APIKeysWire
import NIOCore
import NIOPosix
import Synchronization

/// A bare TCP client for server tests: sends raw bytes and records every frame the
/// server writes and whether it closed the connection. No RPCConnection logic.
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
        let recorder: Recorder
        init(_ recorder: Recorder) { self.recorder = recorder }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            if case .frame(let frame) = unwrapInboundIn(data) { recorder.append(frame) }
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

    static func connect(port: Int) async throws -> RawClient {
        let recorder = Recorder()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(
                        FrameDecoder(expectPreface: false, maxFrameSize: 16 * 1024 * 1024)))
                    try channel.pipeline.syncOperations.addHandler(Collector(recorder))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return RawClient(channel: channel, recorder: recorder)
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes)).get()
    }

    var frames: [Frame] { recorder.frames }
    var closed: Bool { recorder.closed }

    func close() async {
        try? await channel.close()
    }
}
