import APIKeysClient
import APIKeysWire
import Foundation

extension GlobalOptions {
    /// Connects with the credential `kind` needs, runs `body`, and closes the connection.
    /// Every failure comes out as a `CLIFailure` that prints one `error:` line.
    func withClient<T>(_ kind: CredentialKind, _ body: (APIKeysClient) async throws -> T) async throws -> T {
        let credential = try credential(for: kind)
        let address = try address()
        let limit = Duration.milliseconds(Int64(timeout * 1000))
        let connection: RPCConnection
        do {
            connection = try await Self.connect(to: address, within: limit)
        } catch {
            throw CLIFailure(
                code: "UNAVAILABLE",
                message: "cannot connect to \(address): \(ConnectionErrorText.describe(error))",
                json: json)
        }
        let client = APIKeysClient(connection: connection, credential: credential, timeout: limit)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch let error as RPCError {
            await client.close()
            throw CLIFailure(error, json: json)
        } catch {
            await client.close()
            throw error
        }
    }

    /// The TCP connect has its own timeout, but the wait for the server's settings has
    /// none: race both against the deadline so a silent peer cannot hang the tool.
    private static func connect(to address: ServerAddress, within limit: Duration) async throws -> RPCConnection {
        let configuration = {
            var configuration = RPCConnection.Configuration()
            configuration.connectTimeout = limit
            return configuration
        }()
        return try await withThrowingTaskGroup(of: RPCConnection?.self) { group in
            group.addTask {
                try await RPCConnection.connect(host: address.host, port: address.port, configuration: configuration)
            }
            group.addTask {
                try await Task.sleep(for: limit)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let connection = first else {
                throw ConnectTimedOut()
            }
            return connection
        }
    }
}

struct ConnectTimedOut: Error {}

/// Turns connect errors into a few words. The NIO error types are not a dependency
/// of this target, so this looks for their `errnoCode` by reflection
/// (NIO's `IOError` keeps it as `case errno(CInt)`).
enum ConnectionErrorText {
    static func describe(_ error: any Error) -> String {
        if error is ConnectTimedOut { return "timed out" }
        if let rpc = error as? RPCError { return rpc.message }
        if let code = errnoCode(in: error) { return String(cString: strerror(code)).lowercased() }
        let text = String(describing: error)
        if text.contains("connectTimeout") { return "timed out" }
        if text.contains("dnsA") || text.contains("resolve") { return "cannot resolve the host name" }
        return text
    }

    private static func errnoCode(in value: Any, depth: Int = 0) -> Int32? {
        guard depth < 6 else { return nil }
        for child in Mirror(reflecting: value).children {
            // NIO's IOError stores `.errno(CInt)`.
            if child.label == "errno", let code = child.value as? Int32 { return code }
            if let code = errnoCode(in: child.value, depth: depth + 1) { return code }
        }
        return nil
    }
}
