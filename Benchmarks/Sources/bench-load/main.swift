import APIKeysWire
import BenchCore
import NIOCore
import NIOPosix

// A closed-loop load generator on one event loop thread (pin it with taskset).
//
//   bench-load --mode rpc|http --host H --port P --connections C --inflight N
//              --keys keys.tsv --credential SECRET [--warmup 2] [--duration 5] [--server-pid PID]
//
// rpc: our protocol, `Verification/Verify` with `authorization: Service SECRET`
// (also drives bench-echo, which sends our frames back).
// http: HTTP/1.1 `POST /v1/keys:verify`, N/C requests pipelined per connection.
// Prints one line: rps, p50/p99/p99.9 latency in µs, errors, CPU use.
let args = Arguments()
let mode = args.string("mode", "rpc")
let host = args.string("host", "127.0.0.1")
let port = args.int("port", 7420)
let connections = args.int("connections", 1)
let inflight = args.int("inflight", 1)
let warmup = args.double("warmup", 2)
let duration = args.double("duration", 5)
let credential = args.string("credential", "")
let serverPID = args.optionalString("server-pid").flatMap { Int32($0) }
guard inflight % connections == 0, inflight >= connections else {
    fail("--inflight (\(inflight)) must be a multiple of --connections (\(connections))")
}
let depth = inflight / connections
let keys = KeySet.load(path: args.string("keys", "keys.tsv"))
let secrets = keys.shuffledSecrets().map { Array($0.utf8) }

let encoder = VerifyRequestEncoder(
    method: "/apikeys.v1.Verification/Verify", metadata: [("authorization", "Service \(credential)")])
// The hand-written request must be what the server's own codec reads.
do {
    var buffer = ByteBuffer()
    encoder.write(callID: 300, secret: secrets[0], into: &buffer)
    let frames = try FrameCodec.frames(in: Array(buffer.readableBytesView))
    guard frames.count == 1, case .request(let r) = frames[0], r.callID == 300,
          r.method == "/apikeys.v1.Verification/Verify", r.metadata["authorization"] == "Service \(credential)",
          let decoded = try? APIKeysV1.VerifyRequest(serializedBytes: r.message), decoded.secret == String(decoding: secrets[0], as: UTF8.self)
    else { fail("the load generator's request frame does not decode as intended") }
} catch {
    fail("the load generator's request frame does not decode: \(error)")
}

let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let loop = group.next()
let run = LoadRun(eventLoop: loop, serverPID: serverPID)
let stride = secrets.count / connections
var channels: [any Channel] = []
for c in 0..<connections {
    let bootstrap = ClientBootstrap(group: loop)
        .channelOption(.socketOption(.tcp_nodelay), value: 1)
        .channelInitializer { [mode, run, depth, host, port, credential, secrets, encoder, stride, c] channel in
            channel.eventLoop.makeCompletedFuture {
                switch mode {
                case "http":
                    try channel.pipeline.syncOperations.addHandler(HTTPLoadHandler(
                        run: run, depth: depth, host: "\(host):\(port)", authorization: "Service \(credential)",
                        secrets: secrets, offset: c * stride))
                default:
                    try channel.pipeline.syncOperations.addHandler(RPCLoadHandler(
                        run: run, depth: depth, encoder: encoder, secrets: secrets, offset: c * stride))
                }
            }
        }
    do {
        channels.append(try bootstrap.connect(host: host, port: port).wait())
    } catch {
        fail("cannot connect to \(host):\(port): \(error)")
    }
}
loop.scheduleTask(in: .nanoseconds(Int64(warmup * 1e9))) { [run] in run.startMeasuring() }
loop.scheduleTask(in: .nanoseconds(Int64((warmup + duration) * 1e9))) { [run] in run.stop() }
try run.done.futureResult.wait()
let result = try loop.submit { [run] in run.result }.wait()
let firstError = try loop.submit { [run] in run.firstError }.wait()
for channel in channels { try? channel.close().wait() }
try? group.syncShutdownGracefully()
if let firstError { note("bench-load: \(result.errors) errors; first: \(firstError)") }
print(result.line)
