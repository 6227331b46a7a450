import Hummingbird
import Logging
public import ServiceLifecycle

/// `apikeys-console` as a Service: the web server, with its connection to apikeysd.
///
/// ```swift
/// let server = try ConsoleServer(configuration: configuration, logger: logger) { port in
///     print("apikeys-console listening on http://127.0.0.1:\(port)")
/// }
/// try await server.run()
/// ```
public struct ConsoleServer: Service {
    let console: Console
    let started: @Sendable (_ port: Int) -> Void

    public init(configuration: ConsoleConfiguration, logger: Logger,
                started: @escaping @Sendable (_ port: Int) -> Void) throws {
        self.console = try Console(configuration: configuration, logger: logger)
        self.started = started
    }

    public func run() async throws {
        let configuration = console.configuration
        let started = self.started
        var quiet = console.logger
        // Hummingbird's own per-request lines would repeat the console's access log.
        quiet.logLevel = max(console.logger.logLevel, .notice)
        let app = Application(
            router: console.router(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                                 serverName: "apikeys-console"),
            onServerRunning: { channel in started(channel.localAddress?.port ?? 0) },
            logger: quiet)
        defer { Task { [backend = console.backend] in await backend.close() } }
        try await app.runService()
    }
}
