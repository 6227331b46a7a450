import Hummingbird
import NIOCore

/// Hummingbird's request context plus what the console needs: the peer's address (a
/// trusted user header counts only from a configured proxy) and the signed-in session.
struct ConsoleRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    /// The TCP peer: the browser, or the authenticating proxy in front of it.
    let peerAddress: String?
    var session: Session?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        // An IPv4 peer of a socket listening on "::" arrives as ::ffff:a.b.c.d; compare the
        // address a --trusted-proxy names.
        let address = source.channel.remoteAddress?.ipAddress
        peerAddress = address.map { $0.hasPrefix("::ffff:") && $0.contains(".") ? String($0.dropFirst(7)) : $0 }
    }
}
