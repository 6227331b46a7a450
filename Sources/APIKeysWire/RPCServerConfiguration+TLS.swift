import NIOCore
internal import NIOSSL

extension RPCServerConfiguration {
    /// TLS for every connection of the server, from PEM files read when the server starts.
    ///
    /// ```swift
    /// configuration.tls = .server(certificateChain: "server.pem", privateKey: "server.key")
    /// // Clients must present a certificate issued by clients-ca.pem:
    /// configuration.tls = .mutual(certificateChain: "server.pem", privateKey: "server.key",
    ///                             trustRoots: "clients-ca.pem")
    /// ```
    /// TLS wraps the TCP stream; the preface and frames inside it are unchanged.
    public struct TLS: Sendable {
        private enum Base: Sendable {
            case server(certificateChain: String, privateKey: String)
            case mutual(certificateChain: String, privateKey: String, trustRoots: String)
        }

        private let base: Base

        private init(_ base: Base) {
            self.base = base
        }

        /// The server proves who it is; clients are not asked for a certificate.
        public static func server(certificateChain: String, privateKey: String) -> TLS {
            TLS(.server(certificateChain: certificateChain, privateKey: privateKey))
        }

        /// Mutual TLS: every client must present a certificate that chains to `trustRoots`,
        /// or its handshake fails. The names in that certificate reach handlers as
        /// `ServerCall.peerCertificateURIs`.
        public static func mutual(certificateChain: String, privateKey: String, trustRoots: String) -> TLS {
            TLS(.mutual(certificateChain: certificateChain, privateKey: privateKey, trustRoots: trustRoots))
        }

        /// Whether clients must present a certificate.
        public var requiresClientCertificate: Bool {
            if case .mutual = base { return true }
            return false
        }

        /// Reads the files; throws `WireError` naming the file that could not be read.
        func makeContext() throws -> ServerTLSContext {
            var configuration: TLSConfiguration
            switch base {
            case .server(let chain, let key), .mutual(let chain, let key, _):
                configuration = TLSConfiguration.makeServerConfiguration(
                    certificateChain: try PEMFile.certificates(chain, what: "certificate chain").map { .certificate($0) },
                    privateKey: .privateKey(try PEMFile.privateKey(key)))
            }
            configuration.minimumTLSVersion = .tlsv12
            if case .mutual(_, _, let roots) = base {
                // Clients have no host name to check: the chain to `roots` is what counts.
                configuration.certificateVerification = .noHostnameVerification
                configuration.trustRoots = .certificates(try PEMFile.certificates(roots, what: "client trust roots"))
            }
            do {
                return ServerTLSContext(context: try NIOSSLContext(configuration: configuration),
                                        requiresClientCertificate: requiresClientCertificate)
            } catch {
                throw WireError(code: .invalidArgument, message: "the server's TLS configuration is not usable: \(error)")
            }
        }
    }
}

/// What the server builds once from `RPCServerConfiguration.TLS` at start and applies to
/// every connection.
struct ServerTLSContext: Sendable {
    let context: NIOSSLContext
    let requiresClientCertificate: Bool

    /// TLS goes first in the pipeline: everything after it sees plain bytes.
    func addHandlers(to pipeline: ChannelPipeline.SynchronousOperations) throws {
        try pipeline.addHandler(NIOSSLServerHandler(context: context))
        if requiresClientCertificate {
            try pipeline.addHandler(PeerCertificateHandler())
        }
    }
}
