import APIKeysWire
import BenchCore
import NIOCore
import NIOPosix

#if canImport(Glibc)
import Glibc
#endif

// The limit: a server speaking our framing that does nothing else. After the 8-byte
// preface it sends the same settings frame apikeysd sends, then writes every
// length-prefixed frame it reads straight back (no protobuf decode, no lookup, no
// allocation per frame: the reply is a slice of the read buffer).
//
//   bench-echo --port P [--threads 1]
var port = 7421
var threads = 1
var i = 1
while i < CommandLine.arguments.count - 1 {
    switch CommandLine.arguments[i] {
    case "--port": port = Int(CommandLine.arguments[i + 1]) ?? port
    case "--threads": threads = Int(CommandLine.arguments[i + 1]) ?? threads
    default: break
    }
    i += 2
}

final class EchoHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let settings: [UInt8] = FrameCodec.encode(.settings(ServerSettings(
        maxFrameSize: 4 * 1024 * 1024, maxConcurrentCalls: 100, idleTimeoutMillis: 300_000,
        keepaliveIntervalMillis: 60_000, server: "bench-echo")))

    private var prefaceLeft = 8
    private var pending: ByteBuffer?
    private var wrote = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if prefaceLeft > 0 {
            let n = min(prefaceLeft, bytes.readableBytes)
            bytes.moveReaderIndex(forwardBy: n)
            prefaceLeft -= n
            if prefaceLeft == 0 {
                context.write(wrapOutboundOut(context.channel.allocator.buffer(bytes: Self.settings)), promise: nil)
                wrote = true
            }
        }
        if var p = pending, p.readableBytes > 0 {
            p.writeBuffer(&bytes)
            bytes = p
        }
        // Each complete frame goes back as it came.
        while let length = bytes.getInteger(at: bytes.readerIndex, as: UInt32.self),
              bytes.readableBytes >= 4 + Int(length),
              let frame = bytes.readSlice(length: 4 + Int(length)) {
            context.write(wrapOutboundOut(frame), promise: nil)
            wrote = true
        }
        pending = bytes.readableBytes > 0 ? bytes : nil
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if wrote {
            wrote = false
            context.flush()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
let channel = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 256)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelOption(.maxMessagesPerRead, value: 16)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(EchoHandler()) }
    }
    .bind(host: "127.0.0.1", port: port).wait()
printNow("bench-echo listening on 127.0.0.1:\(channel.localAddress?.port ?? port)")
try channel.closeFuture.wait()
