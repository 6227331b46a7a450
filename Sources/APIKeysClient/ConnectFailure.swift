import APIKeysWire
import NIOCore
import NIOPosix
import NIOSSL
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns whatever a connection attempt threw (NIO's, BoringSSL's or the wire's errors) into
/// the client's one error type: UNAVAILABLE, with a message a person can act on.
enum ConnectFailure {
    /// The error for an attempt on `host:port`; `permanent` when no retry can fix it (the
    /// server's certificate), so calls fail at once instead of waiting for a connection.
    static func describe(_ error: any Error, host: String, port: Int) -> (error: RPCError, permanent: Bool) {
        let address = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        let (text, permanent) = reason(error)
        return (RPCError(code: .unavailable, message: "cannot connect to \(address): \(text)"), permanent)
    }

    private static func reason(_ error: any Error) -> (String, Bool) {
        switch error {
        case let error as RPCError:
            return (error.message, false)
        case let error as WireError:
            return (error.message, false)
        case let error as NIOConnectionError:
            if let first = error.connectionErrors.first { return reason(first.error) }
            if let dns = error.dnsAError ?? error.dnsAAAAError { return ("cannot resolve the host name (\(dns))", false) }
            return ("cannot resolve the host name", false)
        case let error as IOError:
            return (String(cString: strerror(error.errnoCode)).lowercased(), false)
        case ChannelError.connectTimeout(let amount):
            return ("the TCP connect timed out after \(Duration.nanoseconds(amount.nanoseconds))", false)
        case NIOSSLError.handshakeFailed(let cause):
            // A certificate the client does not trust, or a server that wants one it lacks.
            return ("TLS handshake failed: \(cause)", true)
        case let error as NIOSSLExtraError:
            return ("TLS: \(error)", true)
        default:
            return (String(describing: error), false)
        }
    }
}
