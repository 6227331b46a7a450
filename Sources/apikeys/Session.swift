import APIKeysClient
import APIKeysWire
import Foundation
import Synchronization

extension GlobalOptions {
    /// Connects with the credential `kind` needs, runs `body`, and closes the connection.
    /// Every failure comes out as a `CLIFailure` that prints one `error:` line.
    func withClient<T>(_ kind: CredentialKind, _ body: (APIKeysClient) async throws -> T) async throws -> T {
        let credential = try credential(for: kind)
        let address = try address()
        let tls = try tlsConfiguration()
        let limit = Duration.milliseconds(Int64(timeout * 1000))
        let connection: RPCConnection
        do {
            connection = try await Self.connect(to: address, tls: tls, within: limit)
        } catch {
            var text = ConnectionErrorText.describe(error)
            // A TLS server's alert read as a frame: a length starting 0x15 0x03.
            if tls == nil, text.contains("exceeds the maximum") {
                text += " (does the server use TLS? pass --tls-ca)"
            }
            throw CLIFailure(code: "UNAVAILABLE", message: "cannot connect to \(address): \(text)", json: json)
        }
        let client = APIKeysClient(connection: connection, credential: credential, timeout: limit)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch var error as RPCError {
            await client.close()
            // Say where and how long, the two things a person checks first.
            if error.code == .unavailable { error.message = "\(address): \(error.message)" }
            if error.code == .deadlineExceeded { error.message += " (--timeout \(Self.seconds(timeout)) s)" }
            throw CLIFailure(error, json: json)
        } catch {
            await client.close()
            throw error
        }
    }

    /// `30`, not `30.0`.
    static func seconds(_ value: Double) -> String {
        value == value.rounded() && value < 1e15 ? String(Int64(value)) : String(value)
    }

    /// The TCP connect has its own timeout, but the wait for the server's settings has
    /// none, and cannot be cancelled: whichever of connect and deadline comes first wins,
    /// and a connection that arrives too late is closed.
    private static func connect(to address: ServerAddress, tls: RPCConnection.Configuration.TLS?,
                                within limit: Duration) async throws -> RPCConnection {
        let configuration = {
            var configuration = RPCConnection.Configuration()
            configuration.connectTimeout = limit
            configuration.tls = tls
            return configuration
        }()
        return try await withCheckedThrowingContinuation { continuation in
            let first = FirstResult(continuation)
            Task {
                do {
                    let connection = try await RPCConnection.connect(
                        host: address.host, port: address.port, configuration: configuration)
                    if !first.resume(with: .success(connection)) { await connection.close() }
                } catch {
                    first.resume(with: .failure(error))
                }
            }
            Task {
                try? await Task.sleep(for: limit)
                first.resume(with: .failure(ConnectTimedOut()))
            }
        }
    }
}

/// Resumes a continuation with the first result only.
private final class FirstResult: Sendable {
    private let continuation: Mutex<CheckedContinuation<RPCConnection, any Error>?>

    init(_ continuation: CheckedContinuation<RPCConnection, any Error>) {
        self.continuation = Mutex(continuation)
    }

    /// False when another result came first.
    @discardableResult
    func resume(with result: Result<RPCConnection, any Error>) -> Bool {
        guard let continuation = continuation.withLock({ $0.take() }) else { return false }
        continuation.resume(with: result)
        return true
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
