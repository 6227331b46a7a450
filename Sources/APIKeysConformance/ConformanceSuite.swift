import APIKeysWire

/// The server a conformance run checks.
public struct ConformanceTarget: Sendable {
    public var host: String
    public var port: Int
    /// How long the server may take to close a connection that sends nothing: its
    /// handshake timeout plus slack.
    public var silenceTimeout: Duration

    public init(host: String, port: Int, silenceTimeout: Duration = .seconds(15)) {
        self.host = host
        self.port = port
        self.silenceTimeout = silenceTimeout
    }
}

/// One check of a server's protocol behaviour, adapted from gRPC's interop tests.
public struct ConformanceCase: Sendable {
    public let name: String
    let body: @Sendable (ConformanceTarget) async throws -> Void

    init(_ name: String, _ body: @escaping @Sendable (ConformanceTarget) async throws -> Void) {
        self.name = name
        self.body = body
    }

    /// Runs the case; nil when it passed, else what went wrong.
    public func run(against target: ConformanceTarget) async -> String? {
        do {
            try await body(target)
            return nil
        } catch let failure as ConformanceFailure {
            return failure.message
        } catch {
            return "unexpected error: \(error)"
        }
    }
}

/// A conformance expectation that did not hold.
public struct ConformanceFailure: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

func expect(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw ConformanceFailure(message: message()) }
}

/// Runs `body` and returns the RPCError it threw, failing if it succeeded.
func expectError<T>(_ body: () async throws -> T) async throws -> RPCError {
    do {
        _ = try await body()
    } catch let error as RPCError {
        return error
    }
    throw ConformanceFailure(message: "the call succeeded but should have failed")
}

/// Every case, in the order they run.
public enum ConformanceSuite {
    public static var cases: [ConformanceCase] { CallCases.all + HostileCases.all }

    /// Runs the cases whose name contains `filter` (all when nil), reporting each.
    public static func run(against target: ConformanceTarget, filter: String? = nil,
                           report: (String, String?) -> Void) async -> (passed: Int, failed: Int) {
        var passed = 0
        var failed = 0
        for test in cases where filter.map({ test.name.contains($0) }) ?? true {
            let failure = await test.run(against: target)
            report(test.name, failure)
            if failure == nil { passed += 1 } else { failed += 1 }
        }
        return (passed, failed)
    }

    static func connect(_ target: ConformanceTarget, respectServerLimit: Bool = true) async throws -> RPCConnection {
        var configuration = RPCConnection.Configuration()
        configuration.respectServerLimit = respectServerLimit
        return try await RPCConnection.connect(host: target.host, port: target.port, configuration: configuration)
    }

    /// After a hostile case: a fresh, well-behaved connection must still be served.
    static func expectServerHealthy(_ target: ConformanceTarget) async throws {
        let connection = try await connect(target)
        defer { Task { await connection.close() } }
        let reply = try await connection.call(APIKeysV1.Health.Method.check, APIKeysV1.HealthCheckRequest(), timeout: .seconds(5))
        try expect(reply.status == .serving, "health check after the hostile case answered \(reply.status)")
    }
}
