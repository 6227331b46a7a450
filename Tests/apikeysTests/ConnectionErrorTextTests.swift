import APIKeysWire
import Testing
@testable import apikeys

@Suite("apikeys: connection failures as one line with the likely fix")
struct ConnectionErrorTextTests {
    static let address = ServerAddress(host: "10.0.0.7", port: 7420)

    @Test("\"HTTP\" read as a frame length names HTTP")
    func http() {
        let hint = ConnectionErrorText.frameHint("connection failed: a frame of 1213486160 bytes exceeds the maximum of 4194304", tls: false)
        #expect(hint == "the server answered with HTTP: is this the apikeys port?")
    }

    @Test("a TLS alert record read as a frame length asks for --tls-ca")
    func tlsRecord() {
        // 0x15 0x03 0x03 0x00: an alert record of TLS 1.2.
        let hint = ConnectionErrorText.frameHint("a frame of \(0x1503_0300 as UInt32) bytes exceeds the maximum of 4194304", tls: false)
        #expect(hint?.contains("the server uses TLS: pass --tls-ca") == true)
    }

    @Test("any other length: not the apikeys protocol")
    func otherProtocol() {
        let hint = ConnectionErrorText.frameHint("a frame of \(0x5353_482D as UInt32) bytes exceeds the maximum of 4194304", tls: false)
        #expect(hint == "the server's reply is not the apikeys protocol: is this the apikeys port?")
        #expect(ConnectionErrorText.frameHint("connection refused", tls: false) == nil)
    }

    @Test("BoringSSL reasons become what to change")
    func tlsReasons() {
        let wrongVersion = "handshakeFailed(sslError([Error: 268435703 error:100000f7:SSL routines:OPENSSL_internal:WRONG_VERSION_NUMBER at tls_record.cc:127]))"
        #expect(ConnectionErrorText.tlsHint(wrongVersion, tls: true, expectedName: "x")?.contains("does not use TLS") == true)
        let hostname = "NIOSSLExtraError.failedToValidateHostname: Couldn't find <none> in certificate from peer"
        #expect(ConnectionErrorText.tlsHint(hostname, tls: true, expectedName: "10.0.0.7")
                == "TLS: the server's certificate does not name 10.0.0.7: pass --tls-server-name with a name it carries")
        let untrusted = "handshakeFailed(sslError([Error: 268435581 error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED]))"
        #expect(ConnectionErrorText.tlsHint(untrusted, tls: true, expectedName: "x")?.contains("pass --tls-ca") == true)
        #expect(ConnectionErrorText.tlsHint(untrusted, tls: false, expectedName: "x") == nil)
    }

    @Test("no answer in time asks whether this is the apikeys port")
    func timedOut() {
        let text = ConnectionErrorText.describe(ConnectTimedOut(seconds: 3), tls: nil, address: Self.address)
        #expect(text == "no apikeys handshake within 3 s (--timeout): is the server up, and is this the apikeys port?")
    }
}
