import NIOCore
internal import NIOSSL
internal import NIOTLS
internal import SwiftASN1
internal import X509

/// Sits right after `NIOSSLServerHandler` under mutual TLS: once the handshake has verified
/// the client's certificate, it sends the names that certificate carries down the pipeline
/// as a `PeerCertificateEvent`, then removes itself. The handshake completes before any
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
        context.fireUserInboundEventTriggered(PeerCertificateEvent(names: certificate.map(Self.names(in:)) ?? []))
        context.fireUserInboundEventTriggered(event)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// The subject's Common Name (the last, most significant one), then the DNS names and
    /// URIs of the subject alternative names, in certificate order.
    static func names(in certificate: NIOSSLCertificate) -> [String] {
        guard let parsed = try? Certificate(derEncoded: certificate.toDERBytes()) else { return [] }
        var names: [String] = []
        let commonNames = parsed.subject.flatMap { $0 }.filter { $0.type == .RDNAttributeType.commonName }
        if let commonName = commonNames.last.flatMap({ String($0.value) }) {
            names.append(commonName)
        }
        for name in (try? parsed.extensions.subjectAlternativeNames) ?? SubjectAlternativeNames() {
            switch name {
            case .dnsName(let value), .uniformResourceIdentifier(let value): names.append(value)
            default: break
            }
        }
        return names
    }
}

/// The names of the connection's verified client certificate, most significant first.
struct PeerCertificateEvent: Sendable {
    let names: [String]
}
