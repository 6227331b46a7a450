import NIOCore
internal import NIOSSL

extension RPCConnection.Configuration {
    /// TLS for a client connection.
    ///
    /// ```swift
    /// var configuration = RPCConnection.Configuration()
    /// configuration.tls = .server(trustRoots: "ca.pem")          // nil: the system's roots
    /// configuration.tls = .mutual(certificateChain: "gateway.pem", privateKey: "gateway.key",
    ///                             trustRoots: "ca.pem")
    /// ```
    /// The server's certificate must name `serverHostname`, or else the host connected to
    /// (an IP address is matched against the certificate's IP addresses).
    public struct TLS: Sendable {
        private enum Base: Sendable {
            case server(trustRoots: String?)
            case mutual(certificateChain: String, privateKey: String, trustRoots: String?)
        }

        private let base: Base
        /// The name the server's certificate must carry, also sent as SNI; nil uses the host.
        public var serverHostname: String?

        private init(_ base: Base, serverHostname: String?) {
            self.base = base
            self.serverHostname = serverHostname
        }

        /// Verify the server against `trustRoots` (a PEM file; nil: the system's roots).
        public static func server(trustRoots: String? = nil, serverHostname: String? = nil) -> TLS {
            TLS(.server(trustRoots: trustRoots), serverHostname: serverHostname)
        }

        /// As `server`, and present a client certificate (mutual TLS).
        public static func mutual(certificateChain: String, privateKey: String, trustRoots: String? = nil,
                                  serverHostname: String? = nil) -> TLS {
            TLS(.mutual(certificateChain: certificateChain, privateKey: privateKey, trustRoots: trustRoots),
                serverHostname: serverHostname)
        }

        /// Reads the files for a connection to `host`; throws `WireError` naming the file
        /// that could not be read.
        func makeContext(host: String) throws -> ClientTLSContext {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            let roots: String?
            switch base {
            case .server(let trustRoots):
                roots = trustRoots
            case .mutual(let chain, let key, let trustRoots):
                roots = trustRoots
                configuration.certificateChain = try PEMFile.certificates(chain, what: "certificate chain").map { .certificate($0) }
                configuration.privateKey = .privateKey(try PEMFile.privateKey(key))
            }
            if let roots {
                configuration.trustRoots = .certificates(try PEMFile.certificates(roots, what: "trust roots"))
            }
            let name = serverHostname ?? host
            // SNI cannot carry an IP address; with none, NIOSSL checks the peer's address.
            let isAddress = (try? SocketAddress(ipAddress: name, port: 0)) != nil
            do {
                return ClientTLSContext(context: try NIOSSLContext(configuration: configuration),
                                        serverHostname: isAddress ? nil : name)
            } catch {
                throw WireError(code: .invalidArgument, message: "the client's TLS configuration is not usable: \(error)")
            }
        }
    }
}

/// A client connection's TLS, built before it connects.
struct ClientTLSContext: Sendable {
    let context: NIOSSLContext
    let serverHostname: String?

    /// TLS goes first in the pipeline: everything after it sees plain bytes.
    func addHandler(to pipeline: ChannelPipeline.SynchronousOperations) throws {
        try pipeline.addHandler(NIOSSLClientHandler(context: context, serverHostname: serverHostname))
    }
}
