import APIKeysClient
import APIKeysServer
import APIKeysWire
import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import Testing

/// The long-lived `APIKeysClient` against servers that go away and come back (issue 12,
/// items 2 and 7): a restart under steady Verify load, a GoAway drain with calls in
/// flight, a listener that never answers the handshake, a refused port, calls spread
/// over the pool, and its end as a `Service`. Timing-sensitive: `make test` runs it alone.
@Suite("Reconnecting client", .timeLimit(.minutes(2)))
struct ReconnectingClientTests {
    static let echo = "/apikeys.v1.Conformance/Echo"
    static let empty = "/apikeys.v1.Conformance/Empty"

    @Test("issue 12: a server restart (same port, same data) under steady Verify load from 8 tasks fails no call")
    func restartUnderVerifyLoad() async throws {
        let server = try await RestartableServer.start()
        let (secret, verifierSecret) = try await Self.provision(server)
        var configuration = APIKeysClient.Configuration()
        configuration.poolSize = 2
        let client = APIKeysClient(host: "127.0.0.1", port: server.port, credential: .service(verifierSecret), configuration: configuration)

        let ok = Locked(0)
        let failures = Locked<[String]>([])
        let stop = Locked(false)
        let workers = (0..<8).map { _ in
            Task {
                while !stop.withLock({ $0 }) {
                    do {
                        let verified = try await client.verify(APIKeysV1.VerifyRequest(secret: secret))
                        if verified.principal?.userID == "dev" { ok.withLock { $0 += 1 } } else {
                            failures.withLock { $0.append("wrong principal: \(String(describing: verified.principal))") }
                        }
                    } catch {
                        failures.withLock { $0.append("\(error)") }
                    }
                }
            }
        }
        try await Task.sleep(for: .seconds(1))
        let before = ok.withLock { $0 }
        // Down for a second, longer than a quick restart: calls wait it out, reconnecting with backoff.
        let outage = try await server.restart(downFor: .seconds(1))
        let atRestart = ok.withLock { $0 }
        try await Task.sleep(for: .milliseconds(1500))
        stop.withLock { $0 = true }
        for worker in workers { await worker.value }
        let after = ok.withLock { $0 } - atRestart
        let statistics = client.statistics
        let failed = failures.withLock { $0 }
        print("restart under load: \(ok.withLock { $0 }) Verify calls OK (\(before) before the restart, \(after) after), \(failed.count) failed; port closed \(outage); \(statistics)")
        #expect(failed.isEmpty, "\(failed.count) calls failed, first: \(failed.prefix(3))")
        #expect(before > 50 && after > 50, "before \(before), after \(after)")
        #expect(statistics.connectionsOpened >= 2, "a new connection to the new server: \(statistics)")
        await client.close()
        await server.stop()
    }

    @Test("issue 12: GoAway drain with calls in flight: they finish on the old server, calls made meanwhile go to the new one; none fails")
    func drainWithCallsInFlight() async throws {
        let server = try await RestartableServer.start()
        var configuration = APIKeysClient.Configuration()
        configuration.poolSize = 2
        let client = APIKeysClient(host: "127.0.0.1", port: server.port, configuration: configuration)
        let slow = (0..<20).map { _ in
            Task { () throws -> APIKeysV1.EchoResponse in
                try await client.call(Self.echo, APIKeysV1.EchoRequest(sleepMillis: 800, responseSize: 3), metadata: [:])
            }
        }
        // The calls reach the server (one that had not when the GoAway came is sent again).
        try await Task.sleep(for: .milliseconds(300))
        let done = Locked(false)
        let restarted = Task {
            defer { done.withLock { $0 = true } }
            return try await server.restart()
        }
        // Calls made while the old server drains and while nothing listens.
        var later: [Task<APIKeysV1.EmptyMessage, any Error>] = []
        while !done.withLock({ $0 }) {
            later.append(Task { try await client.call(Self.empty, APIKeysV1.EmptyMessage(), metadata: [:], timeout: .seconds(20)) })
            try await Task.sleep(for: .milliseconds(20))
        }
        _ = try await restarted.value
        var failed: [String] = []
        for call in slow {
            do { #expect(try await call.value.payload.count == 3) } catch { failed.append("in flight: \(error)") }
        }
        for call in later {
            do { _ = try await call.value } catch { failed.append("during the drain: \(error)") }
        }
        let statistics = client.statistics
        print("drain: 20 calls in flight, \(later.count) during the drain and the restart, \(failed.count) failed; \(statistics)")
        #expect(failed.isEmpty, "\(failed.prefix(3))")
        #expect(later.count > 5)
        #expect(statistics.connectionsOpened >= 2)
        // The new server answers: the client is on it now.
        let _: APIKeysV1.EmptyMessage = try await client.call(Self.empty, APIKeysV1.EmptyMessage(), metadata: [:])
        await client.close()
        await server.stop()
    }

    @Test("issue 12: a listener that accepts and never answers: each attempt ends at the handshake timeout, the call fails UNAVAILABLE naming it, sockets are closed")
    func handshakeTimeout() async throws {
        let listener = try await SilentListener.start()
        var configuration = APIKeysClient.Configuration()
        configuration.poolSize = 1
        configuration.handshakeTimeout = .milliseconds(300)
        configuration.connectionWait = .milliseconds(1500)

        let start = ContinuousClock.now
        let once = await #expect(throws: RPCError.self) {
            try await APIKeysClient.connect(host: "127.0.0.1", port: listener.port, configuration: configuration)
        }
        let single = ContinuousClock.now - start
        #expect(once?.code == .unavailable)
        #expect(once?.message.contains("handshake timeout") == true, "\(String(describing: once))")
        #expect(single >= .milliseconds(300) && single < .seconds(1), "one attempt took \(single)")

        let client = APIKeysClient(host: "127.0.0.1", port: listener.port, configuration: configuration)
        let lazyStart = ContinuousClock.now
        let pooled = await #expect(throws: RPCError.self) { try await client.health() }
        let waited = ContinuousClock.now - lazyStart
        #expect(pooled?.code == .unavailable)
        #expect(pooled?.message.contains("handshake timeout") == true, "\(String(describing: pooled))")
        #expect(waited >= .milliseconds(1500) && waited < .milliseconds(2600), "the call waited \(waited)")
        let attempts = client.statistics.connectFailures
        #expect(attempts >= 2, "reconnect attempts: \(attempts)")

        // A call whose own deadline is shorter ends with it.
        var short = client
        short.timeout = .milliseconds(400)
        let deadline = await #expect(throws: RPCError.self) { try await short.health() }
        #expect(deadline?.code == .deadlineExceeded)
        await client.close()

        // Every connection the client opened, it closed again.
        let closing = ContinuousClock.now + .seconds(2)
        while listener.open > 0, ContinuousClock.now < closing { try await Task.sleep(for: .milliseconds(10)) }
        #expect(listener.open == 0, "\(listener.open) timed-out connections left open")
        print("handshake timeout: one attempt \(single), pooled call failed after \(waited) and \(attempts) attempts; \(listener.accepted) connections accepted")
        #expect(listener.accepted >= attempts + 1)
        await listener.stop()
    }

    @Test("issue 12: a refused connection is RPCError UNAVAILABLE, at once from connect, after the connection wait from a call, with backoff between attempts")
    func connectionRefused() async throws {
        let port = try await Self.closedPort()
        let eager = await #expect(throws: RPCError.self) {
            try await APIKeysClient.connect(host: "127.0.0.1", port: port)
        }
        #expect(eager?.code == .unavailable)
        #expect(eager?.message.contains("refused") == true, "\(String(describing: eager))")

        var configuration = APIKeysClient.Configuration()
        configuration.connectionWait = .seconds(1)
        configuration.backoffMax = .milliseconds(400)
        let start = ContinuousClock.now
        let (lazy, attempts) = try await withAPIKeysClient(host: "127.0.0.1", port: port, configuration: configuration) { client in
            let error = await #expect(throws: RPCError.self) { try await client.verify(APIKeysV1.VerifyRequest(secret: "apk_x")) }
            return (error, client.statistics.connectFailures)
        }
        let waited = ContinuousClock.now - start
        #expect(lazy?.code == .unavailable)
        #expect(lazy?.message.contains("refused") == true, "\(String(describing: lazy))")
        #expect(waited >= .seconds(1) && waited < .milliseconds(1800), "waited \(waited)")
        // 25-50 ms, then doubling to at most 400 ms: a handful of attempts, not hundreds.
        #expect((3...15).contains(attempts), "\(attempts) attempts")
    }

    @Test("issue 12: concurrent calls spread over the pool's connections (the server sees each); sequential calls stay on one")
    func poolSpread() async throws {
        let logs = CapturedLogs()
        var logger = logs.logger
        logger.logLevel = .debug
        let server = try await TestServer.start(logger: logger)
        var configuration = APIKeysClient.Configuration()
        configuration.poolSize = 3
        let client = APIKeysClient(host: server.host, port: server.port, configuration: configuration)
        // The pool opens a connection while every open one is busy: bursts of calls open all three.
        for _ in 0..<20 where client.statistics.openConnections < 3 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<30 { group.addTask { let _: APIKeysV1.EmptyMessage = try await client.call(Self.empty, APIKeysV1.EmptyMessage(), metadata: [:]) } }
                try await group.waitForAll()
            }
        }
        let warm = client.statistics.callsPerConnection
        let failures = Locked(0)
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<90 {
                group.addTask {
                    do {
                        let _: APIKeysV1.EchoResponse = try await client.call(Self.echo, APIKeysV1.EchoRequest(sleepMillis: 300), metadata: [:])
                    } catch {
                        failures.withLock { $0 += 1 }
                    }
                }
            }
        }
        var spread = client.statistics
        spread.callsPerConnection = zip(spread.callsPerConnection, warm).map { $0 - $1 }
        let afterBurst = client.statistics.callsPerConnection
        for _ in 0..<20 { let _: APIKeysV1.EmptyMessage = try await client.call(Self.empty, APIKeysV1.EmptyMessage(), metadata: [:]) }
        let sequential = zip(client.statistics.callsPerConnection, afterBurst).map { $0 - $1 }
        let peers = Set(logs.records.filter { $0.message == "connection opened" }.compactMap { $0.metadata["peer"] })
        print("pool: calls per connection \(spread.callsPerConnection), then 20 sequential calls \(sequential); the server saw \(peers.count) connections")
        #expect(failures.withLock { $0 } == 0)
        #expect(spread.openConnections == 3 && spread.callsPerConnection.count == 3, "\(spread)")
        #expect(spread.callsPerConnection.allSatisfy { $0 > 0 } && spread.callsPerConnection.reduce(0, +) == 90, "\(spread)")
        #expect(peers.count == 3, "\(peers)")
        #expect(sequential.sorted() == [0, 0, 20], "\(sequential)")
        await client.close()
        await server.stop()
    }

    @Test("issue 12: the server's idle GoAway moves the next call to a fresh connection, without an error")
    func idleGoAway() async throws {
        let server = try await TestServer.start { $0.rpc.connection.idleTimeout = .seconds(1) }
        var configuration = APIKeysClient.Configuration()
        configuration.poolSize = 1
        let client = APIKeysClient(host: server.host, port: server.port, configuration: configuration)
        #expect(try await client.health().status == .serving)
        try await Task.sleep(for: .milliseconds(1600))
        #expect(try await client.health().status == .serving)
        #expect(client.statistics.connectionsOpened == 2, "\(client.statistics)")
        await client.close()
        await server.stop()
    }

    @Test("issue 12: as a Service, the client ends with its ServiceGroup: the call in flight finishes, later calls are CANCELLED")
    func serviceLifecycle() async throws {
        let server = try await TestServer.start()
        var configuration = APIKeysClient.Configuration()
        configuration.poolSize = 1
        let client = APIKeysClient(host: server.host, port: server.port, configuration: configuration)
        var logger = Logger(label: "client-group")
        logger.logLevel = .critical
        let group = ServiceGroup(services: [client], logger: logger)
        let running = Task { try await group.run() }
        let slow = Task { () throws -> APIKeysV1.EchoResponse in
            try await client.call(Self.echo, APIKeysV1.EchoRequest(sleepMillis: 500, responseSize: 2), metadata: [:])
        }
        try await Self.waitUntilRunning(client, calls: 1)
        await group.triggerGracefulShutdown()
        #expect(try await slow.value.payload.count == 2)
        try await running.value
        let later = await #expect(throws: RPCError.self) { try await client.health() }
        #expect(later?.code == .cancelled)
        await server.stop()
    }

    // MARK: - helpers

    /// A tenant with a licensed developer `dev` and a key; (its secret, a verify-scope credential).
    static func provision(_ server: RestartableServer) async throws -> (String, String) {
        let shared = try await SharedServer.provision(host: "127.0.0.1", port: server.port, operatorSecret: server.operatorSecret)
        let t = try await RuleTenant.make(on: shared)
        try await t.addUser("dev")
        let (_, secret) = try await t.generate("dev", name: "load")
        let verifier = try await t.operator.createServiceCredential(APIKeysV1.CreateServiceCredentialRequest(
            name: "edge-\(t.id)", scope: .verify))
        await t.close()
        return (secret, verifier.secret)
    }

    /// Waits until the server runs `calls` sleeping calls: a probe sees one more in flight.
    static func waitUntilRunning(_ client: APIKeysClient, calls: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let probe: APIKeysV1.EchoResponse = try await client.call(echo, APIKeysV1.EchoRequest(), metadata: [:])
            if probe.callsInFlight > calls { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        Issue.record("the sleeping calls never ran on the server")
    }

    /// A port nothing listens on: bound once, then closed.
    static func closedPort() async throws -> Int {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(channel.localAddress?.port)
        try await channel.close()
        return port
    }
}

/// An in-process apikeysd on a fixed port and data directory that restarts like a deployed
/// one: graceful stop (GoAway, drain), then a new server on the same port and data.
final class RestartableServer: Sendable {
    let port: Int
    let operatorSecret: String
    private let directory: String
    private let current: Mutex<TestServer?>

    private init(first: TestServer, operatorSecret: String, directory: String) {
        port = first.port
        self.operatorSecret = operatorSecret
        self.directory = directory
        current = Mutex(first)
    }

    static func start() async throws -> RestartableServer {
        let directory = RestartTests.temporaryDirectory("reconnect")
        let first = try await TestServer.start(dataDirectory: directory) { $0.rpc.connection.idleTimeout = .seconds(60) }
        let secret = try #require(first.newOperatorCredential)
        return RestartableServer(first: first, operatorSecret: secret, directory: directory)
    }

    /// Stops the server and, `downFor` later, starts another on the same port and data;
    /// returns how long nothing answered there.
    @discardableResult
    func restart(downFor: Duration = .zero) async throws -> Duration {
        let start = ContinuousClock.now
        let old = current.withLock { $0.take() }
        await old?.stop()
        try await Task.sleep(for: downFor)
        let port = self.port
        let next = try await TestServer.start(dataDirectory: directory) { configuration in
            configuration.rpc.port = port
            configuration.rpc.connection.idleTimeout = .seconds(60)
        }
        current.withLock { $0 = next }
        return ContinuousClock.now - start
    }

    func stop() async {
        let server = current.withLock { $0.take() }
        await server?.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// A TCP listener that accepts connections, reads what comes, and never answers.
final class SilentListener: Sendable {
    let port: Int
    private let channel: any Channel
    private let counts: Counts

    final class Counts: Sendable {
        let accepted = Atomic<Int>(0)
        let open = Atomic<Int>(0)
    }

    final class Silent: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        let counts: Counts
        init(_ counts: Counts) { self.counts = counts }
        func channelActive(context: ChannelHandlerContext) {
            counts.accepted.add(1, ordering: .relaxed)
            counts.open.add(1, ordering: .relaxed)
        }
        func channelInactive(context: ChannelHandlerContext) { counts.open.subtract(1, ordering: .relaxed) }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
    }

    private init(port: Int, channel: any Channel, counts: Counts) {
        self.port = port
        self.channel = channel
        self.counts = counts
    }

    static func start() async throws -> SilentListener {
        let counts = Counts()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Silent(counts)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        return SilentListener(port: try #require(channel.localAddress?.port), channel: channel, counts: counts)
    }

    var accepted: Int { counts.accepted.load(ordering: .relaxed) }
    var open: Int { counts.open.load(ordering: .relaxed) }

    func stop() async { try? await channel.close() }
}
