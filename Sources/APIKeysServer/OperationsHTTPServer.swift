import Hummingbird
import Logging
import NIOCore
import NIOPosix
import Prometheus
public import ServiceLifecycle

/// `--http-port`: what a supervisor, a load balancer or Prometheus asks over plain HTTP.
/// `/healthz`: the process answers. `/readyz`: the store answers a query on a database
/// file that is there (503 with the reason otherwise). `/metrics`: the Prometheus text
/// format of `registry`.
///
/// ```swift
/// let http = OperationsHTTPServer(host: "127.0.0.1", port: 9420, readiness: server.readiness,
///                                 registry: registry, logger: logger) { port in print(port) }
/// // a Service in the same ServiceGroup as the RPC server
/// ```
public struct OperationsHTTPServer: Service {
    let host: String
    let port: Int
    let readiness: Readiness
    let registry: PrometheusCollectorRegistry
    let logger: Logger
    let started: @Sendable (_ port: Int) -> Void

    public init(host: String, port: Int, readiness: Readiness, registry: PrometheusCollectorRegistry, logger: Logger,
                started: @escaping @Sendable (_ port: Int) -> Void) {
        self.host = host
        self.port = port
        self.readiness = readiness
        self.registry = registry
        self.logger = logger
        self.started = started
    }

    public func run() async throws {
        let router = Router()
        let readiness = self.readiness
        let registry = self.registry
        router.get("/healthz") { _, _ in
            Self.text(.ok, "ok\n")
        }
        router.get("/readyz") { _, _ in
            // SQLite may block: off the event loop, as for Health/Check.
            let problem = try await NIOThreadPool.singleton.runIfActive { readiness.problem() }
            if let problem { return Self.text(.serviceUnavailable, "not ready: \(problem)\n") }
            return Self.text(.ok, "ready\n")
        }
        router.get("/metrics") { _, _ in
            var buffer = ByteBuffer()
            buffer.writeBytes(registry.emitToBuffer())
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: buffer))
        }
        let started = self.started
        var quiet = logger
        // Hummingbird's own per-request lines would double the access log; its errors stay.
        quiet.logLevel = max(logger.logLevel, .notice)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "apikeysd"),
            onServerRunning: { channel in started(channel.localAddress?.port ?? 0) },
            logger: quiet)
        do {
            // No signals of its own: Hummingbird's default traps SIGTERM too, and when its
            // handler won the race the port stopped before apikeysd's group began to shut
            // down: "service finished unexpectedly", exit 1 on a clean SIGTERM.
            try await app.runService(gracefulShutdownSignals: [])
        } catch where Task.isShuttingDownGracefully {
            // An error while the port closes (a client's connection cut short) is not a failure.
            logger.notice("the HTTP port closed with an error during shutdown", metadata: ["error": "\(error)"])
        }
    }

    private static func text(_ status: HTTPResponse.Status, _ body: String) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

/// ServiceLifecycle's log lines name services by their description: a short name, not a dump.
extension OperationsHTTPServer: CustomStringConvertible {
    public var description: String { "http" }
}
