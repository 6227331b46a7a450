import Foundation
import Hummingbird
import HTTPTypes

/// Finds the request's session: from the session cookie, or (behind an authenticating
/// proxy) from the trusted user header, which counts only when the TCP peer is one of the
/// configured proxies.
struct SessionMiddleware: RouterMiddleware {
    typealias Context = ConsoleRequestContext
    let console: Console

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        var session = request.cookies[Console.sessionCookie].flatMap { console.sessions.find($0.value) }
        var newCookie: String?
        if let headerName = console.configuration.trustedUserHeader {
            if let identity = trustedIdentity(request, peer: context.peerAddress, header: headerName) {
                if session?.via != "proxy" || session?.tenantID != identity.tenant || session?.userID != identity.user {
                    let proxied = console.sessions.proxySession(tenantID: identity.tenant, userID: identity.user)
                    newCookie = console.sessionCookie(proxied.id)
                    session = proxied
                }
            } else if session?.via == "proxy" {
                // The proxy no longer vouches for this request (another peer, or no header):
                // a cookie alone does not keep a proxy sign-in.
                session = nil
            }
        }
        context.session = session
        var response = try await next(request, context)
        if let newCookie { response.headers.append(HTTPField(name: .setCookie, value: newCookie)) }
        return response
    }

    /// `TENANT/USER` from the header, when a trusted proxy sent it.
    private func trustedIdentity(_ request: Request, peer: String?, header: String) -> (tenant: String, user: String)? {
        guard let peer, console.configuration.trustedProxies.contains(peer),
              let name = HTTPField.Name(header), let value = request.headers[name] else { return nil }
        let parts = value.split(separator: "/", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let tenant = parts[0].trimmingCharacters(in: .whitespaces)
        let user = parts[1].trimmingCharacters(in: .whitespaces)
        guard !tenant.isEmpty, !user.isEmpty else { return nil }
        return (tenant, user)
    }
}
