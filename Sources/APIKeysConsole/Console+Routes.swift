import APIKeysWire
import Hummingbird
import Logging
import HTTPTypes

extension Console {
    /// Every page and form of the console. Changes are POSTs only, each checking the
    /// session's CSRF token; GETs change nothing.
    func router() -> Router<ConsoleRequestContext> {
        let router = Router(context: ConsoleRequestContext.self)
        router.add(middleware: SecurityHeadersMiddleware(logger: logger))
        router.add(middleware: SessionMiddleware(console: self))

        router.get("/static/console.css") { _, _ in
            Self.asset(StaticAssets.stylesheet, type: "text/css; charset=utf-8")
        }
        router.get("/static/console.js") { _, _ in
            Self.asset(StaticAssets.script, type: "text/javascript; charset=utf-8")
        }
        router.get("/healthz") { _, _ in "ok\n" }

        router.get("/") { _, context in await home(context) }
        router.get("/signin") { _, context in signInPage(context) }
        router.post("/signin") { request, context in try await signIn(request, context) }
        router.post("/signout") { request, context in try await signOut(request, context) }

        router.get("/console/settings") { _, context in await adminOnly(context) { try await settingsPage($0, context) } }
        router.post("/console/settings") { request, context in
            let fields = try await form(request)
            return await posted(fields, context) { try await updateSettings($0, fields, context) }
        }
        router.get("/console/keys") { request, context in await adminOnly(context) { try await keysPage($0, query(request), context) } }
        router.post("/console/keys/revoke") { request, context in
            let fields = try await form(request)
            return await posted(fields, context) { try await revokeFromTable($0, fields, context) }
        }
        router.get("/console/events") { request, context in await adminOnly(context) { try await eventsPage($0, query(request), context) } }
        router.get("/console/users") { _, context in await adminOnly(context) { try await usersPage($0, context) } }
        router.post("/console/users/developer") { request, context in
            let fields = try await form(request)
            return await posted(fields, context) { try await setDeveloper($0, fields, context) }
        }
        router.post("/console/users/license") { request, context in
            let fields = try await form(request)
            return await posted(fields, context) { try await setLicense($0, fields, context) }
        }

        router.get("/hub/keys") { _, context in await signedIn(context) { try await hubPage($0, context) } }
        router.post("/hub/keys/generate") { request, context in
            let fields = try await form(request)
            return await posted(fields, context) { try await generate($0, fields, context) }
        }
        router.get("/hub/keys/new") { _, context in await signedIn(context) { newSecretPage($0, context) } }
        router.post("/hub/keys/rename") { request, context in
            let fields = try await form(request)
            return await posted(fields, context) { try await rename($0, fields, context) }
        }
        router.post("/hub/keys/revoke") { request, context in
            let fields = try await form(request)
            return await posted(fields, context) { try await revokeOwn($0, fields, context) }
        }
        router.post("/hub/keys/delete") { request, context in
            let fields = try await form(request)
            return await posted(fields, context) { try await deleteOwn($0, fields, context) }
        }
        return router
    }

    /// Runs `body` for a signed-in session, else sends the browser to sign in; turns
    /// apikeysd's refusals into a page that says why.
    func signedIn(_ context: ConsoleRequestContext,
                  _ body: (Session) async throws -> Response) async -> Response {
        guard let session = context.session else { return redirect("/signin") }
        do {
            return try await body(session)
        } catch {
            return failure(error, title: "That did not work", context: context)
        }
    }

    /// As `signedIn`, for a form POST: refused, changing nothing, without the session's CSRF token.
    func posted(_ form: FormData, _ context: ConsoleRequestContext,
                _ body: (Session) async throws -> Response) async -> Response {
        guard context.session != nil else { return redirect("/signin") }
        guard let session = checkedSession(form, context) else { return csrfRefused(context) }
        do {
            return try await body(session)
        } catch {
            return failure(error, title: "That did not work", context: context)
        }
    }

    /// As `signedIn`, for the tenant admin's pages. apikeysd refuses everyone else anyway
    /// (R3); asking first keeps a developer from a key table that would list only their
    /// own keys under a heading that says "every key of the tenant".
    func adminOnly(_ context: ConsoleRequestContext,
                   _ body: (Session) async throws -> Response) async -> Response {
        await signedIn(context) { session in
            guard isAdmin(await currentUser(session)) else {
                return page("message", ["heading": "For tenant admins",
                                        "text": RefusalText.describe(RPCError(code: .permissionDenied, message: "",
                                                                              rule: "R3", reason: "not_tenant_admin"))],
                            title: "For tenant admins", context: context, status: .forbidden)
            }
            return try await body(session)
        }
    }

    func home(_ context: ConsoleRequestContext) async -> Response {
        guard let session = context.session else { return redirect("/signin") }
        return redirect(isAdmin(await currentUser(session)) ? "/console/keys" : "/hub/keys")
    }

    private static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=300"],
                 body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
