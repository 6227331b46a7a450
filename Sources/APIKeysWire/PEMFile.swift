internal import NIOSSL

/// Reads the PEM files a TLS configuration names, with errors that say which file failed
/// (never what is in it).
enum PEMFile {
    static func certificates(_ path: String, what: String) throws -> [NIOSSLCertificate] {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(path)
        } catch {
            throw WireError(code: .invalidArgument, message: "cannot read the TLS \(what) from \(path): \(error)")
        }
        guard !certificates.isEmpty else {
            throw WireError(code: .invalidArgument, message: "the TLS \(what) file \(path) holds no PEM certificate")
        }
        return certificates
    }

    static func privateKey(_ path: String) throws -> NIOSSLPrivateKey {
        do {
            return try NIOSSLPrivateKey(file: path, format: .pem)
        } catch {
            throw WireError(code: .invalidArgument, message: "cannot read the TLS private key from \(path): \(error)")
        }
    }
}
