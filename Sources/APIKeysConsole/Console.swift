import APIKeysClient
import APIKeysWire
import Foundation
import Hummingbird
import HTTPTypes
import Logging

/// The console's pages: what every handler shares (configuration, sessions, the apikeysd
/// connection, templates) and the helpers that turn a template into a response.
struct Console: Sendable {
    static let sessionCookie = "apikeys_console_session"
    /// Carries the sign-in form's CSRF token before there is a session (login CSRF).
    static let signInCookie = "apikeys_console_signin"

    let configuration: ConsoleConfiguration
    let sessions: SessionStore
    let backend: Backend
    let pages: PageRenderer
    let logger: Logger

    init(configuration: ConsoleConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.sessions = SessionStore(lifetime: configuration.sessionLifetime, maxSessions: configuration.maxSessions)
        self.backend = Backend(host: configuration.serverHost, port: configuration.serverPort,
                               serviceCredential: configuration.serviceCredential)
        self.pages = try PageRenderer()
        self.logger = logger
    }

    // MARK: - Cookies

    /// HttpOnly (no script reads it), SameSite=Strict (no other site's form or link sends
    /// it), Secure unless plain-HTTP development on loopback (ConsoleConfiguration).
    func sessionCookie(_ id: String) -> String {
        cookie(Self.sessionCookie, id, maxAge: Int(configuration.sessionLifetime.components.seconds))
    }

    func cookie(_ name: String, _ value: String, maxAge: Int) -> String {
        var cookie = "\(name)=\(value); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(maxAge)"
        if configuration.secureCookies { cookie += "; Secure" }
        return cookie
    }

    // MARK: - Responses

    /// A page: `template` rendered with `data`, inside the layout.
    func page(_ template: String, _ data: [String: Any], title: String, nav: String = "",
              context: ConsoleRequestContext, status: HTTPResponse.Status = .ok,
              error: String? = nil, isAdmin: Bool = false) -> Response {
        var data = data
        var layout: [String: Any] = ["title": title, "devMode": configuration.developmentMode]
        if let session = context.session {
            data["csrf"] = session.csrfToken
            data["tenantID"] = session.tenantID
            data["userID"] = session.userID
            layout["signedIn"] = ["csrf": session.csrfToken, "tenantID": session.tenantID, "userID": session.userID]
            layout["isAdmin"] = isAdmin
            if let notice = sessions.takeNotice(for: session.id) { layout["notice"] = notice }
        }
        if !nav.isEmpty { layout["nav_\(nav)"] = true }
        if let error { layout["error"] = error }
        layout["body"] = pages.render(template, data)
        return html(pages.render("layout", layout), status: status)
    }

    func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status,
                 headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// 303 See Other: after a POST, the browser GETs `location` (a reload does not re-post).
    func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    // MARK: - Requests

    /// The body of a form POST, at most 1 MiB.
    func form(_ request: Request) async throws -> FormData {
        let buffer = try await request.body.collect(upTo: 1 << 20)
        return FormData(String(buffer: buffer))
    }

    func query(_ request: Request) -> FormData {
        FormData(request.uri.query ?? "")
    }

    /// The signed-in session after checking the form's CSRF token; nil when either is missing.
    func checkedSession(_ form: FormData, _ context: ConsoleRequestContext) -> Session? {
        guard let session = context.session, let token = form["csrf"],
              SessionStore.tokensMatch(token, session.csrfToken) else { return nil }
        return session
    }

    /// The page for a POST without a valid CSRF token: nothing was changed.
    func csrfRefused(_ context: ConsoleRequestContext) -> Response {
        logger.warning("refused a form without a valid CSRF token")
        return page("message", ["heading": "Request refused",
                                "text": "This form was not sent by a page of this console (its security token is missing or wrong), so nothing was changed. Reload the page and try again."],
                    title: "Request refused", context: context, status: .forbidden)
    }

    /// The caller's directory entry, to show the tenant admin's pages in the navigation.
    func currentUser(_ session: Session) async -> APIKeysV1.User? {
        guard let client = try? await backend.client(for: session) else { return nil }
        return try? await client.getUser(APIKeysV1.GetUserRequest(userID: session.userID)).user
    }

    func isAdmin(_ user: APIKeysV1.User?) -> Bool {
        user?.roles.contains(.tenantAdmin) ?? false
    }

    /// A page explaining why apikeysd refused or could not be reached.
    func failure(_ error: any Error, title: String, context: ConsoleRequestContext, isAdmin: Bool = false) -> Response {
        let status: HTTPResponse.Status
        if let rpc = error as? RPCError, rpc.code != .unavailable {
            switch rpc.code {
            case .permissionDenied: status = .forbidden
            case .notFound: status = .notFound
            case .unauthenticated: status = .unauthorized
            default: status = .badRequest
            }
        } else {
            logger.error("apikeysd call failed", metadata: ["error": "\(error)"])
            status = .serviceUnavailable
        }
        return page("message", ["heading": title, "text": RefusalText.describe(error)],
                    title: title, context: context, status: status, isAdmin: isAdmin)
    }
}
