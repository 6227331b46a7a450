import BenchCore
import NIOCore

/// One HTTP/1.1 keep-alive connection with `depth` pipelined requests in flight:
/// `POST /v1/keys:verify` with `{"secret":"…"}`; responses come back in order.
final class HTTPLoadHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let run: LoadRun
    private let depth: Int
    private let secrets: [[UInt8]]
    private var secretIndex: Int
    private let head: [UInt8]
    private var sentAt: [UInt64]
    private var head0 = 0
    private var inFlight = 0
    private var inbound: ByteBuffer?
    private var outbound: ByteBuffer
    private static let bodyPrefix = Array("{\"secret\":\"".utf8)
    private static let bodySuffix = Array("\"}".utf8)

    init(run: LoadRun, depth: Int, host: String, authorization: String, secrets: [[UInt8]], offset: Int) {
        self.run = run
        self.depth = depth
        self.secrets = secrets
        self.secretIndex = offset % secrets.count
        // Every secret has the same length, so one head fits every request.
        let bodyLength = Self.bodyPrefix.count + secrets[0].count + Self.bodySuffix.count
        self.head = Array((
            "POST /v1/keys:verify HTTP/1.1\r\nHost: \(host)\r\nContent-Type: application/json\r\n"
            + "Authorization: \(authorization)\r\nContent-Length: \(bodyLength)\r\n\r\n").utf8)
        self.sentAt = [UInt64](repeating: 0, count: depth)
        self.outbound = ByteBufferAllocator().buffer(capacity: 0)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        outbound = context.channel.allocator.buffer(capacity: 64 * 1024)
    }

    func channelActive(context: ChannelHandlerContext) {
        fill()
        flush(context)
    }

    private func fill() {
        guard run.phase != .stopped else { return }
        let now = nowNanos()
        while inFlight < depth {
            sentAt[(head0 + inFlight) % depth] = now
            let secret = secrets[secretIndex]
            precondition(secret.count == secrets[0].count, "secrets of different lengths")
            outbound.writeBytes(head)
            outbound.writeBytes(Self.bodyPrefix)
            outbound.writeBytes(secret)
            outbound.writeBytes(Self.bodySuffix)
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
        while true {
            let parsed = inbound!.withUnsafeReadableBytes { Self.parseResponse($0) }
            guard let (length, status) = parsed else { break }
            if length < 0 {
                run.fatal("an HTTP response could not be parsed (only Content-Length bodies are supported)")
                return
            }
            inbound!.moveReaderIndex(forwardBy: length)
            if now == 0 { now = nowNanos() }
            run.complete(sentAt: sentAt[head0], ok: status == 200, now: now, error: "HTTP status \(status)")
            head0 = (head0 + 1) % depth
            inFlight -= 1
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

    /// The length of the first complete response and its status; nil when incomplete;
    /// a negative length when it cannot be parsed.
    static func parseResponse(_ p: UnsafeRawBufferPointer) -> (Int, Int)? {
        guard p.count >= 16 else { return nil }
        var end = -1
        var i = 0
        while i + 3 < p.count {
            if p[i] == 13, p[i + 1] == 10, p[i + 2] == 13, p[i + 3] == 10 { end = i + 4; break }
            i += 1
        }
        guard end > 0 else { return nil }
        // "HTTP/1.1 200 OK"
        let status = Int(p[9] &- 48) * 100 + Int(p[10] &- 48) * 10 + Int(p[11] &- 48)
        var contentLength = -1
        var lineStart = 0
        for j in 0..<(end - 1) where p[j] == 13 && p[j + 1] == 10 {
            let line = UnsafeRawBufferPointer(rebasing: p[lineStart..<j])
            if line.count > 15, line[0] | 0x20 == UInt8(ascii: "c"), line[8] | 0x20 == UInt8(ascii: "l"),
               line[14] == UInt8(ascii: ":") {
                var n = 0
                for c in line[15...] where c >= 48 && c <= 57 { n = n * 10 + Int(c - 48) }
                contentLength = n
            }
            lineStart = j + 2
        }
        guard contentLength >= 0 else { return (-1, status) }
        guard p.count >= end + contentLength else { return nil }
        return (end + contentLength, status)
    }
}
