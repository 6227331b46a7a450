import NIOCore
internal import NIOSSL
internal import NIOTLS
internal import SwiftASN1
internal import X509

/// Sits right after `NIOSSLServerHandler` under mutual TLS: once the handshake has verified
/// the client's certificate, it sends the certificate's subject alternative name URIs down
/// the pipeline as a `PeerCertificateEvent`, then removes itself. The handshake completes before any
/// application byte is passed on, so the event comes before the preface.
final class PeerCertificateHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard case .handshakeCompleted = event as? TLSUserEvent else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        let certificate = try? context.pipeline.syncOperations.nioSSL_peerCertificate()
        context.fireUserInboundEventTriggered(PeerCertificateEvent(uris: certificate.map(Self.uris(in:)) ?? []))
        context.fireUserInboundEventTriggered(event)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// The URIs of the subject alternative names, in certificate order. The Common Name and
    /// DNS names are left out on purpose: a service is named by one kind of name only, so a
    /// certificate made for something else (CN=intern-laptop) can never pass for it.
    static func uris(in certificate: NIOSSLCertificate) -> [String] {
        guard let parsed = try? Certificate(derEncoded: certificate.toDERBytes()) else { return [] }
        var uris: [String] = []
        for name in (try? parsed.extensions.subjectAlternativeNames) ?? SubjectAlternativeNames() {
            if case .uniformResourceIdentifier(let value) = name { uris.append(value) }
        }
        return uris
    }
}

/// The subject alternative name URIs of the connection's verified client certificate.
struct PeerCertificateEvent: Sendable {
    let uris: [String]
}
