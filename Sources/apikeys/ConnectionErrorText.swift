import APIKeysClient
import APIKeysWire
import Foundation

/// Turns a failed connection into one line with the likely fix, instead of NIO's and
/// BoringSSL's internals (`error:100000f7:...WRONG_VERSION_NUMBER`, "a frame of
/// 1213486160 bytes"). The NIO error types are not a dependency of this target, so this
/// reads their descriptions and looks for an `errnoCode` by reflection.
enum ConnectionErrorText {
    static func describe(_ error: any Error, tls: RPCConnection.Configuration.TLS?, address: ServerAddress) -> String {
        if let timedOut = error as? ConnectTimedOut {
            // An HTTP server, for one, waits in silence for a request line that never comes.
            return "no apikeys handshake within \(GlobalOptions.seconds(timedOut.seconds)) s (--timeout): is the server up, and is this the apikeys port?"
        }
        let text = (error as? RPCError)?.message ?? String(describing: error)
        if let hint = frameHint(text, tls: tls != nil) { return hint }
        if let hint = tlsHint(text, tls: tls != nil, expectedName: tls?.serverHostname ?? address.host) { return hint }
        if error is RPCError { return text }
        if let code = errnoCode(in: error) { return String(cString: strerror(code)).lowercased() }
        if text.contains("connectTimeout") { return "timed out" }
        if text.contains("dnsA") || text.contains("resolve") { return "cannot resolve the host name" }
        return text
    }

    /// The first four bytes of any reply are read as a frame's length: "HTTP" is 1213486160,
    /// a TLS record (0x15 or 0x16, then 0x03) hundreds of millions.
    static func frameHint(_ text: String, tls: Bool) -> String? {
        guard let range = text.range(of: #"a frame of (\d+) bytes"#, options: .regularExpression) else { return nil }
        let digits = text[range].split(separator: " ")[3]
        guard let length = UInt32(digits) else { return nil }
        let bytes = [UInt8(length >> 24), UInt8(length >> 16 & 0xff), UInt8(length >> 8 & 0xff), UInt8(length & 0xff)]
        if bytes == Array("HTTP".utf8) {
            return "the server answered with HTTP: is this the apikeys port?"
        }
        if (bytes[0] == 0x15 || bytes[0] == 0x16) && bytes[1] == 0x03 && !tls {
            return "the server uses TLS: pass --tls-ca FILE (or --tls to trust the system's roots)"
        }
        return "the server's reply is not the apikeys protocol: is this the apikeys port?"
    }

    /// BoringSSL's reason codes, as NIOSSL prints them, mapped to what to change.
    static func tlsHint(_ text: String, tls: Bool, expectedName: String) -> String? {
        let upper = text.uppercased()
        guard tls else { return nil }
        if upper.contains("WRONG_VERSION_NUMBER") || upper.contains("PACKET_LENGTH_TOO_LONG")
            || upper.contains("HTTP_REQUEST") || upper.contains("RECORD_LENGTH_MISMATCH") {
            return "TLS handshake failed: the server does not use TLS (drop --tls, --tls-ca and APIKEYS_TLS*), or this is not the apikeys port"
        }
        if upper.contains("HOSTNAME") || upper.contains("UNABLETOVALIDATEHOSTNAME") {
            return "TLS: the server's certificate does not name \(expectedName): pass --tls-server-name with a name it carries"
        }
        if upper.contains("CERTIFICATE_VERIFY_FAILED") || upper.contains("UNABLE_TO_GET_ISSUER")
            || upper.contains("SELF_SIGNED") || upper.contains("UNTRUSTED") || upper.contains("FAILEDTOVERIFY") {
            return "TLS: the server's certificate is not trusted: pass --tls-ca with the CA that signed it"
        }
        if upper.contains("CERTIFICATE_REQUIRED") || upper.contains("ALERT_HANDSHAKE_FAILURE")
            || upper.contains("ALERT_BAD_CERTIFICATE") || upper.contains("CERTIFICATE_UNKNOWN") {
            return "TLS: the server refused the handshake: it may require a client certificate (--tls-certificate and --tls-private-key) it trusts"
        }
        // A server that is not TLS may reset the connection rather than close it.
        if upper.contains("EOF DURING HANDSHAKE") || upper.contains("UNCLEANSHUTDOWN") || upper.contains("CONNECTION RESET") {
            return "TLS handshake failed: the server closed the connection: it does not use TLS (drop --tls and --tls-ca), or wants a client certificate (--tls-certificate and --tls-private-key)"
        }
        if upper.contains("HANDSHAKEFAILED") || upper.contains("SSL") {
            return "TLS handshake failed: check --tls-ca and --tls-server-name, and that the server uses TLS"
        }
        return nil
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
