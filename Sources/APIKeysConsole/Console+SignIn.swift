import APIKeysClient
import APIKeysWire
import Hummingbird
import Logging
import HTTPTypes

extension Console {
    /// Development mode: a form to pick a tenant and user. Behind a proxy: how to sign in.
    func signInPage(_ context: ConsoleRequestContext, tenant: String = "", user: String = "",
                    error: String? = nil, status: HTTPResponse.Status = .ok) -> Response {
        if context.session != nil, error == nil { return redirect("/") }
        // The sign-in form is protected against login CSRF by a token in a cookie of its own.
        let token = SessionStore.randomToken()
        var response = page("signin", ["devMode": configuration.developmentMode, "signInToken": token,
                                       "tenant": tenant, "user": user],
                            title: "Sign in", context: context, status: status, error: error)
        response.headers.append(HTTPField(name: .setCookie, value: cookie(Self.signInCookie, token, maxAge: 3600)))
        return response
    }

    func signIn(_ request: Request, _ context: ConsoleRequestContext) async throws -> Response {
        guard configuration.developmentMode else {
            return signInPage(context, error: "Signing in by name is only possible in development mode.", status: .forbidden)
        }
        let fields = try await form(request)
        guard let sent = fields["csrf"], let expected = request.cookies[Self.signInCookie]?.value,
              SessionStore.tokensMatch(sent, expected) else {
            return csrfRefused(context)
        }
        let tenant = fields.text("tenant"), user = fields.text("user")
        guard !tenant.isEmpty, !user.isEmpty else {
            return signInPage(context, tenant: tenant, user: user, error: "Give a tenant ID and a user ID.", status: .badRequest)
        }
        // apikeysd must know the user: reading their own entry as them proves it.
        let candidate = Session(id: "", tenantID: tenant, userID: user, csrfToken: "", via: "development", lastSeen: .now)
        do {
            _ = try await backend.client(for: candidate).getUser(APIKeysV1.GetUserRequest(userID: user))
        } catch {
            let known = (error as? RPCError).map { $0.code != .unavailable && $0.code != .deadlineExceeded } ?? false
            let text = known ? "apikeysd does not know user “\(user)” in tenant “\(tenant)”." : RefusalText.describe(error)
            return signInPage(context, tenant: tenant, user: user, error: text, status: .forbidden)
        }
        if let old = context.session { sessions.remove(old.id) }
        let session = sessions.create(tenantID: tenant, userID: user, via: "development")
        logger.notice("development sign-in", metadata: ["tenant": "\(tenant)", "user": "\(user)"])
        var response = redirect("/")
        response.headers.append(HTTPField(name: .setCookie, value: sessionCookie(session.id)))
        response.headers.append(HTTPField(name: .setCookie, value: cookie(Self.signInCookie, "", maxAge: 0)))
        return response
    }

    /// Ends the console session. Behind a proxy, the proxy's own sign-in is the proxy's to end.
    func signOut(_ request: Request, _ context: ConsoleRequestContext) async throws -> Response {
        let fields = try await form(request)
        guard let session = checkedSession(fields, context) else {
            return context.session == nil ? redirect("/signin") : csrfRefused(context)
        }
        sessions.remove(session.id)
        var response = redirect("/signin")
        response.headers.append(HTTPField(name: .setCookie, value: cookie(Self.sessionCookie, "", maxAge: 0)))
        return response
    }
}
