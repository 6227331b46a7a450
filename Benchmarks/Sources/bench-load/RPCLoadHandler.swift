import BenchCore
import NIOCore

/// One connection of our protocol, keeping `depth` calls in flight: every response (or
/// echoed frame) sends the next request at once.
final class RPCLoadHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let preface: [UInt8] = Array("APIKEYS".utf8) + [1]
    private static let ringSize = 1 << 14

    private let run: LoadRun
    private let depth: Int
    private let encoder: VerifyRequestEncoder
    private let secrets: [[UInt8]]
    private var secretIndex: Int
    private var nextCallID: UInt64 = 1
    private var inFlight = 0
    private var sentAt = [UInt64](repeating: 0, count: ringSize)
    private var inbound: ByteBuffer?
    private var outbound: ByteBuffer
    private var context: ChannelHandlerContext?

    init(run: LoadRun, depth: Int, encoder: VerifyRequestEncoder, secrets: [[UInt8]], offset: Int) {
        self.run = run
        self.depth = depth
        self.encoder = encoder
        self.secrets = secrets
        self.secretIndex = offset % secrets.count
        self.outbound = ByteBufferAllocator().buffer(capacity: 0)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        outbound = context.channel.allocator.buffer(capacity: 64 * 1024)
    }

    func channelActive(context: ChannelHandlerContext) {
        outbound.writeBytes(Self.preface)
        fill()
        flush(context)
    }

    /// Sends requests until `depth` are in flight.
    private func fill() {
        guard run.phase != .stopped else { return }
        let now = nowNanos()
        while inFlight < depth {
            let callID = nextCallID
            nextCallID += 1
            sentAt[Int(callID) & (Self.ringSize - 1)] = now
            encoder.write(callID: callID, secret: secrets[secretIndex], into: &outbound)
            secretIndex += 1
            if secretIndex == secrets.count { secretIndex = 0 }
            inFlight += 1
        }
    }

    private func flush(_ context: ChannelHandlerContext) {
        guard outbound.readableBytes > 0 else { return }
        let out = outbound
        outbound = context.channel.allocator.buffer(capacity: max(4096, out.readableBytes))
        context.writeAndFlush(wrapOutboundOut(out), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if inbound == nil || inbound!.readableBytes == 0 {
            inbound = bytes
        } else {
            inbound!.writeBuffer(&bytes)
        }
        var now: UInt64 = 0
        while let length = inbound!.getInteger(at: inbound!.readerIndex, as: UInt32.self),
              inbound!.readableBytes >= 4 + Int(length) {
            let frame = inbound!.withUnsafeReadableBytes { raw in
                ServerFrame.parse(UnsafeRawBufferPointer(rebasing: raw[4..<(4 + Int(length))]))
            }
            inbound!.moveReaderIndex(forwardBy: 4 + Int(length))
            switch frame {
            case .call(let id, let code):
                if now == 0 { now = nowNanos() }
                inFlight -= 1
                run.complete(sentAt: sentAt[Int(id) & (Self.ringSize - 1)], ok: code == 0, now: now,
                             error: "call \(id) failed with status code \(code)")
            case .settings, .other:
                break
            case .goAway:
                run.fatal("the server sent GOAWAY")
                return
            case .malformed:
                run.fatal("a frame from the server could not be parsed")
                return
            }
        }
        if inbound!.readableBytes == 0 { inbound!.clear() } else { inbound!.discardReadBytes() }
        fill()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flush(context)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if run.phase != .stopped { run.fatal("the server closed the connection") }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        run.fatal("connection error: \(error)")
        context.close(promise: nil)
    }
}
