import APIKeysDomain
import NIOCore
import PostgresNIO

/// Turns postgres-nio's and NIO's errors into the port's: ``StoreUnavailable`` when the
/// database cannot be reached or is going away (the caller may retry later), otherwise a
/// ``PostgresStoreError`` with the SQLSTATE. PSQLError's own description hides everything,
/// so the message is built here from the server's fields; it never holds a password or
/// a statement's arguments.
enum PostgresFailure {
    static func map(_ error: any Error, _ location: PostgresLocation, doing what: String) -> any Error {
        switch error {
        case is StoreUnavailable, is PostgresStoreError:
            return error
        case let error as PSQLError:
            return map(error, location, doing: what)
        case let error as PostgresDecodingError:
            return PostgresStoreError.corrupt("\(what): column \(error.columnName) cannot be read (\(error.code))")
        default:
            // NIO's connect, channel and I/O errors: the socket is gone or never came.
            return StoreUnavailable("PostgreSQL at \(location.address) is unreachable: \(what) failed (\(plain(error)))")
        }
    }

    private static func map(_ error: PSQLError, _ location: PostgresLocation, doing what: String) -> any Error {
        if error.code == .server, let info = error.serverInfo {
            let state = info[.sqlState] ?? "?"
            let text = "\(info[.message] ?? "error") (SQLSTATE \(state))"
            if isUnavailable(sqlState: state) {
                return StoreUnavailable("PostgreSQL at \(location.address) is unavailable: \(what) failed: \(text)")
            }
            return PostgresStoreError(.database, sqlState: state, "PostgreSQL refused \(what): \(text)")
        }
        let cause = error.underlying.map { ": \(plain($0))" } ?? ""
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed,
             .sslUnsupported, .failedToAddSSLHandler, .messageDecodingFailure, .unexpectedBackendMessage:
            return StoreUnavailable("PostgreSQL at \(location.address) is unavailable: \(what) failed (\(error.code)\(cause))")
        default:
            return PostgresStoreError(.database, "PostgreSQL: \(what) failed (\(error.code)\(cause))")
        }
    }

    /// An operator reads "connection refused", not NIO's nested connect-error dump.
    static func plain(_ error: any Error) -> String {
        let text = "\(error)"
        for reason in ["Connection refused", "Connection reset by peer", "No route to host", "Network is unreachable",
                       "Connection timed out", "connectTimeout", "Name or service not known", "nodename nor servname"]
        where text.contains(reason) {
            return reason == "connectTimeout" ? "connection timed out" : reason.lowercased()
        }
        return text
    }

    /// Connection exceptions (08, but a protocol violation is a bug), shutting down or starting (57P01-57P03), too many
    /// connections or out of resources (53), and refused logins (28): none is the caller's
    /// fault and each may pass.
    static func isUnavailable(sqlState: String) -> Bool {
        (sqlState.hasPrefix("08") && sqlState != "08P01") || sqlState.hasPrefix("53") || sqlState.hasPrefix("28")
            || ["57P01", "57P02", "57P03", "57P05"].contains(sqlState)
    }
}
