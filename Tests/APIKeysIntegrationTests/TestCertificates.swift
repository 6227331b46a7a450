import Foundation

/// Certificates made for the tests, at test time, with the openssl command-line tool:
/// a CA; a server certificate for IP 127.0.0.1 and DNS localhost; client certificates from
/// that CA: the gateway and the verifier (SAN URIs spiffe://example.org/...), CN=stranger,
/// finding 7's CN=intern-laptop with SAN URI:gateway, and one whose CN and DNS name spell the
/// gateway's URI without carrying it; and CN=gateway from another, untrusted CA.
/// Elliptic-curve keys, so making them all takes a few tens of milliseconds.
struct TestCertificates: Sendable {
    /// A certificate and its private key, as PEM file paths.
    struct Pair: Sendable {
        let certificate: String
        let privateKey: String
    }

    let directory: String
    let ca: String
    let otherCA: String
    let server: Pair
    /// CN=gateway, SAN URI:spiffe://example.org/gateway.
    let gateway: Pair
    let stranger: Pair
    /// CN=anything, SAN URI:spiffe://example.org/verifier.
    let verifier: Pair
    /// Finding 7: CN=intern-laptop, SAN URI:gateway.
    let intern: Pair
    /// CN=spiffe://example.org/gateway, SAN DNS:gateway: the names, but not as a URI.
    let lookalike: Pair
    let untrustedGateway: Pair

    static let gatewayURI = "spiffe://example.org/gateway"
    static let verifierURI = "spiffe://example.org/verifier"

    /// Made once per test process, on a thread of its own: waiting for openssl on the
    /// cooperative pool (two threads here) would stall every other test's tasks.
    static func shared() async throws -> TestCertificates {
        try await made.value
    }

    private static let made = Task {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<TestCertificates, any Error>) in
            Thread { continuation.resume(with: Result { try TestCertificates.make() }) }.start()
        }
    }

    private static func make() throws -> TestCertificates {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("apikeys-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }

        try makeCA("ca", in: directory)
        try makeCA("other-ca", in: directory)
        let serverExtensions = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n"
        let clientExtensions = "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n"
        try makeLeaf("server", commonName: "localhost", ca: "ca", extensions: serverExtensions, serial: 2, in: directory)
        try makeLeaf("gateway", commonName: "gateway", ca: "ca", extensions: clientExtensions + "subjectAltName=URI:\(gatewayURI)\n",
                     serial: 3, in: directory)
        try makeLeaf("stranger", commonName: "stranger", ca: "ca", extensions: clientExtensions, serial: 4, in: directory)
        try makeLeaf("verifier", commonName: "anything", ca: "ca", extensions: clientExtensions + "subjectAltName=URI:\(verifierURI)\n",
                     serial: 6, in: directory)
        try makeLeaf("intern", commonName: "intern-laptop", ca: "ca", extensions: clientExtensions + "subjectAltName=URI:gateway\n",
                     serial: 7, in: directory)
        // -subj separates fields with "/": the URI's own slashes are escaped.
        try makeLeaf("lookalike", commonName: gatewayURI.replacingOccurrences(of: "/", with: "\\/"), ca: "ca", extensions: clientExtensions + "subjectAltName=DNS:gateway\n",
                     serial: 8, in: directory)
        try makeLeaf("untrusted-gateway", commonName: "gateway", ca: "other-ca", extensions: clientExtensions, serial: 5, in: directory)
        func pair(_ name: String) -> Pair { Pair(certificate: path("\(name).pem"), privateKey: path("\(name).key")) }
        return TestCertificates(
            directory: directory, ca: path("ca.pem"), otherCA: path("other-ca.pem"),
            server: pair("server"), gateway: pair("gateway"), stranger: pair("stranger"), verifier: pair("verifier"),
            intern: pair("intern"), lookalike: pair("lookalike"), untrustedGateway: pair("untrusted-gateway"))
    }

    private static let newKey = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    private static func makeCA(_ name: String, in directory: String) throws {
        try openssl(["req", "-x509"] + newKey + ["-keyout", "\(name).key", "-out", "\(name).pem", "-days", "2",
                                                  "-subj", "/CN=apikeys test \(name)"], in: directory)
    }

    private static func makeLeaf(_ name: String, commonName: String, ca: String, extensions: String, serial: Int,
                                 in directory: String) throws {
        try extensions.write(toFile: (directory as NSString).appendingPathComponent("\(name).ext"), atomically: true, encoding: .utf8)
        try openssl(["req", "-new"] + newKey + ["-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(commonName)"],
                    in: directory)
        try openssl(["x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key",
                     "-set_serial", "\(serial)", "-days", "2", "-out", "\(name).pem", "-extfile", "\(name).ext"], in: directory)
    }

    private static func openssl(_ arguments: [String], in directory: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.currentDirectoryURL = URL(fileURLWithPath: directory)
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let output = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw OpenSSLFailed(arguments: arguments, output: String(decoding: output, as: UTF8.self))
        }
    }

    struct OpenSSLFailed: Error, CustomStringConvertible {
        let arguments: [String]
        let output: String
        var description: String { "openssl \(arguments.joined(separator: " ")) failed: \(output)" }
    }
}
