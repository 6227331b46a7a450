import APIKeysClient
import APIKeysWire
import Foundation
import Synchronization

extension GlobalOptions {
    /// Connects with the credential `kind` needs, runs `body`, and closes the connection.
    /// Every failure comes out as a `CLIFailure` that prints one `error:` line.
    func withClient<T>(_ kind: CredentialKind, _ body: (APIKeysClient) async throws -> T) async throws -> T {
        let context = try context()
        let credential = try credential(for: kind)
        let address = try address(context)
        let tls = try tlsConfiguration(context)
        let timeout = seconds(context)
        let limit = Duration.milliseconds(Int64(timeout * 1000))
        let connection: RPCConnection
        do {
            connection = try await Self.connect(to: address, tls: tls, within: limit)
        } catch {
            let text = ConnectionErrorText.describe(error, tls: tls, address: address)
            throw CLIFailure(code: "UNAVAILABLE", message: "cannot connect to \(address): \(text)",
                             exitStatus: ExitStatus.unavailable)
        }
        let client = APIKeysClient(connection: connection, credential: credential, timeout: limit)
        do {
            let result = try await body(client)
            await client.close()
            return result
        } catch var error as RPCError {
            await client.close()
            // Say where and how long, the two things a person checks first.
            if error.code == .unavailable {
                error.message = "\(address): \(error.message)"
            }
            if error.code == .deadlineExceeded { error.message += " (--timeout \(Self.seconds(timeout)) s)" }
            throw CLIFailure(error)
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
                first.resume(with: .failure(ConnectTimedOut(seconds: Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18)))
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

struct ConnectTimedOut: Error {
    var seconds: Double
}
