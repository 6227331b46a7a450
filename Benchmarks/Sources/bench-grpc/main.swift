import BenchCore
import BenchGRPCService
import BenchMessages
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import GRPCProtobuf
import NIOCore
import NIOPosix
import Synchronization

// The gRPC peer: the same VerifyRequest/VerifyResponse, served by grpc-swift-2 over
// HTTP/2 (grpc-swift-nio-transport, plaintext), with the in-memory lookup of VerifyLookup.
//
//   bench-grpc serve --port P --keys keys.tsv --credential SECRET [--threads 1]
//   bench-grpc load  --port P --keys keys.tsv --credential SECRET --connections C --inflight N
//                    [--warmup 2] [--duration 5] [--server-pid PID]
//
// `load` is closed-loop like bench-load: N tasks, each calling Verify as soon as its
// previous call returned, spread over C clients (one HTTP/2 connection each).
let args = Arguments()
let command = args.positional.first ?? "serve"
// Issue 14, goal 7 (is the peer configured as its maintainers would?): the transports are
// grpc-swift-nio-transport's Posix ones with their defaults, as in grpc-swift-2's examples.
// `--executor nio` tries SwiftNIO's executor takeover (Swift tasks on the event loop threads,
// no hop to Dispatch): on this 2-core machine it made the peer 4× slower at 1 and 16 in
// flight (the handler tasks then queue behind the event loop's own work on one thread), so
// the default stays Swift's own executor. Profiled, the peer's CPU goes to generic metadata
// lookups, retain/release and task switches inside grpc-swift-2: its design, not a setting.
let executor = args.string("executor", "dispatch")
let threads = args.int("threads", 1)
if executor == "nio" {
    // Before any task starts: the singleton group becomes the global executor, with as many
    // threads as --threads (server) or one (load), like apikeysd's --threads 1.
    NIOSingletons.groupLoopCountSuggestion = command == "serve" ? threads : 1
    guard NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() else {
        fail("bench-grpc: could not install the NIO executor")
    }
} else if executor != "dispatch" {
    fail("--executor is nio or dispatch")
}
/// The event loops: the singleton (which also runs the tasks) under the NIO executor.
func eventLoopGroup(threads: Int) -> MultiThreadedEventLoopGroup {
    executor == "nio" ? MultiThreadedEventLoopGroup.singleton : MultiThreadedEventLoopGroup(numberOfThreads: threads)
}
let port = args.int("port", 7422)
let keys = KeySet.load(path: args.string("keys", "keys.tsv"))
let credential = args.string("credential", "")

struct VerificationService: Apikeys_V1_Verification.ServiceProtocol {
    let lookup: VerifyLookup

    func verify(
        request: ServerRequest<Apikeys_V1_VerifyRequest>, context: ServerContext
    ) async throws -> ServerResponse<Apikeys_V1_VerifyResponse> {
        let authorization = request.metadata[stringValues: "authorization"].first(where: { _ in true })
        switch lookup.verify(authorization: authorization, secret: request.message.secret) {
        case .success(let entry):
            var response = Apikeys_V1_VerifyResponse()
            response.principal.tenantID = entry.tenantID
            response.principal.userID = entry.userID
            response.principal.keyID = entry.keyID
            response.principal.roles = entry.roles
            response.principal.expiresAtMs = entry.expiresAtMs
            return ServerResponse(message: response)
        case .failure(.unauthenticatedService):
            throw RPCError(code: .unauthenticated, message: "the service credential is not recognised")
        case .failure:
            throw RPCError(code: .unauthenticated, message: "the key does not authenticate")
        }
    }
}

@MainActor func serve() async throws {
    let lookup = VerifyLookup(keys: keys, serviceCredential: credential)
    let group = eventLoopGroup(threads: threads)
    let server = GRPCServer(
        transport: HTTP2ServerTransport.Posix(
            address: .ipv4(host: "127.0.0.1", port: port), transportSecurity: .plaintext,
            config: .defaults { $0.http2.maxConcurrentStreams = 1024 }, eventLoopGroup: group),
        services: [VerificationService(lookup: lookup)])
    try await withThrowingDiscardingTaskGroup { tasks in
        tasks.addTask { try await server.serve() }
        if let address = try await server.listeningAddress {
            printNow("bench-grpc listening on \(address) with \(lookup.count) keys")
        }
    }
}

/// Where the run is: the main task flips these, the calling tasks read them.
final class Phase: Sendable {
    private let measuringFlag = Atomic<Bool>(false)
    private let stoppedFlag = Atomic<Bool>(false)
    var measuring: Bool {
        get { measuringFlag.load(ordering: .relaxed) }
        set { measuringFlag.store(newValue, ordering: .relaxed) }
    }
    var stopped: Bool {
        get { stoppedFlag.load(ordering: .relaxed) }
        set { stoppedFlag.store(newValue, ordering: .relaxed) }
    }
}

@MainActor func load() async throws {
    let connections = args.int("connections", 1)
    let inflight = args.int("inflight", 1)
    let warmup = args.double("warmup", 2)
    let duration = args.double("duration", 5)
    let serverPID = args.optionalString("server-pid").flatMap { Int32($0) }
    guard inflight % connections == 0 else { fail("--inflight must be a multiple of --connections") }
    let secrets = keys.shuffledSecrets()
    let group = eventLoopGroup(threads: 1)
    let metadata: Metadata = ["authorization": "Service \(credential)"]
    let phase = Phase()

    let clients = try (0..<connections).map { _ in
        GRPCClient(transport: try HTTP2ClientTransport.Posix(
            target: .ipv4(address: "127.0.0.1", port: port), transportSecurity: .plaintext,
            config: .defaults, eventLoopGroup: group))
    }
    let (samples, errors, result) = try await withThrowingTaskGroup(of: Void.self) { running in
        for client in clients { running.addTask { try await client.runConnections() } }
        defer { for client in clients { client.beginGracefulShutdown() } }

        let perTask = try await withThrowingTaskGroup(of: (Samples, Int).self) { callers in
            for t in 0..<inflight {
                let stub = Apikeys_V1_Verification.Client(wrapping: clients[t % connections])
                let start = t * (secrets.count / inflight)
                callers.addTask {
                    var samples = Samples(capacity: 1 << 18)
                    var errors = 0
                    var i = start
                    var request = Apikeys_V1_VerifyRequest()
                    while !phase.stopped {
                        request.secret = secrets[i]
                        i = (i + 1) % secrets.count
                        let sent = nowNanos()
                        var ok = true
                        do { _ = try await stub.verify(request, metadata: metadata) } catch { ok = false }
                        if phase.measuring && !phase.stopped {
                            samples.add(nanoseconds: nowNanos() - sent)
                            if !ok { errors += 1 }
                        }
                    }
                    return (samples, errors)
                }
            }
            try await Task.sleep(for: .milliseconds(Int(warmup * 1000)))
            let serverStart = serverPID.flatMap(processCPUSeconds)
            let clientStart = selfCPUSeconds()
            let t0 = nowNanos()
            phase.measuring = true
            try await Task.sleep(for: .milliseconds(Int(duration * 1000)))
            phase.stopped = true
            let seconds = Double(nowNanos() - t0) / 1e9
            let clientCPU = selfCPUSeconds() - clientStart
            let serverCPU = serverPID.flatMap(processCPUSeconds).flatMap { end in serverStart.map { end - $0 } }
            var all = Samples(capacity: 1 << 20)
            var errors = 0
            for try await (s, e) in callers {
                all.merge(s)
                errors += e
            }
            return (all, errors, (seconds, clientCPU, serverCPU))
        }
        return perTask
    }
    if errors > 0 { note("bench-grpc: \(errors) calls failed") }
    print(RunResult(samples: samples, errors: errors, seconds: result.0, serverCPU: result.2, clientCPU: result.1).line)
    if executor != "nio" { try await group.shutdownGracefully() }  // the singleton is never shut down
}

switch command {
case "serve": try await serve()
case "load": try await load()
default: fail("usage: bench-grpc serve|load ...")
}
