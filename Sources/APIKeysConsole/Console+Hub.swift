import APIKeysClient
import APIKeysWire
import Hummingbird
import Logging

extension Console {
    /// Expiry choices; the server refuses one beyond the tenant maximum (X2) and the page
    /// says so plainly.
    static let expiryChoices: [(seconds: UInt64, label: String)] = [
        (3600, "1 hour"), (86_400, "1 day"), (7 * 86_400, "7 days"), (30 * 86_400, "30 days"),
        (90 * 86_400, "90 days"), (365 * 86_400, "365 days"),
    ]

    /// Hub › My API keys: the signed-in user's keys, and the Generate form (R18).
    func hubPage(_ session: Session, _ context: ConsoleRequestContext, generateError: String? = nil,
                 typedName: String = "", status: HTTPResponse.Status = .ok) async throws -> Response {
        let client = try await backend.client(for: session)
        let user = try? await client.getUser(APIKeysV1.GetUserRequest(userID: session.userID)).user
        let admin = isAdmin(user)
        // A tenant admin lists the whole tenant (X11): search by their user ID narrows the
        // pages, and only the keys they own are kept.
        var mine: [APIKeysV1.ApiKey] = []
        var token = ""
        for _ in 0..<20 {
            let listed = try await client.listKeys(APIKeysV1.ListKeysRequest(search: admin ? session.userID : "", sortBy: .created,
                                                                   descending: true, pageSize: 100, pageToken: token))
            mine += listed.keys.filter { $0.ownerID == session.userID }
            token = listed.nextPageToken
            if token.isEmpty { break }
        }
        // Only a tenant admin may read the settings (R3): others see every choice, and a
        // choice beyond the maximum is refused with a plain reason.
        let maximum = admin ? (try? await client.getSettings().settings?.maxExpirySeconds) : nil
        var options: [[String: Any]] = [["value": "", "label": "The tenant's maximum" + (maximum.map { " (\(Display.duration(seconds: $0)))" } ?? ""),
                                         "selected": true]]
        for choice in Self.expiryChoices where maximum.map({ choice.seconds <= $0 }) ?? true {
            options.append(["value": "\(choice.seconds)", "label": choice.label, "selected": false])
        }
        let hint = maximum.map { "At most \(Display.duration(seconds: $0)) in this tenant (X2)." }
            ?? "At most the tenant's maximum expiry (X2); by default the key gets exactly that."
        var data: [String: Any] = ["keys": mine.map(Display.key), "expiryOptions": options, "expiryHint": hint,
                                   "typedName": typedName]
        if let generateError { data["generateError"] = generateError }
        return page("hub", data, title: "My API keys", nav: "hub", context: context, status: status, isAdmin: admin)
    }

    /// Generates, keeps the secret in the session for the one page that shows it, and
    /// redirects there: the secret is never in a URL, and a reload of that page finds it gone.
    func generate(_ session: Session, _ form: FormData, _ context: ConsoleRequestContext) async throws -> Response {
        let client = try await backend.client(for: session)
        let name = form.text("name")
        var request = APIKeysV1.GenerateKeyRequest(name: name)
        if let seconds = UInt64(form.text("expires_in")) { request.expiry = .expiresInSeconds(seconds) }
        let generated: APIKeysV1.GenerateKeyResponse
        do {
            generated = try await client.generateKey(request)
        } catch let error as RPCError {
            return try await hubPage(session, context, generateError: RefusalText.describe(error), typedName: name,
                                     status: error.code == .permissionDenied ? .forbidden : .badRequest)
        }
        let key = generated.key ?? APIKeysV1.ApiKey()
        sessions.setPendingSecret(PendingSecret(keyID: key.id, keyName: key.name, secret: generated.secret,
                                                expiresAtMs: key.expiresAtMs), for: session.id)
        return redirect("/hub/keys/new")
    }

    /// The secret's one showing (R18), never cached (`Cache-Control: no-store`, as every page).
    func newSecretPage(_ session: Session, _ context: ConsoleRequestContext) -> Response {
        var data: [String: Any] = [:]
        if let pending = sessions.takePendingSecret(for: session.id) {
            data["created"] = ["keyID": pending.keyID, "keyName": pending.keyName, "secret": pending.secret,
                               "expires": Display.time(pending.expiresAtMs)]
        }
        return page("secret", data, title: "New API key", nav: "hub", context: context)
    }

    func rename(_ session: Session, _ form: FormData, _ context: ConsoleRequestContext) async throws -> Response {
        let client = try await backend.client(for: session)
        let renamed = try await client.renameKey(APIKeysV1.RenameKeyRequest(keyID: form.text("key_id"), name: form.text("name")))
        sessions.setNotice("Key \(renamed.key?.id ?? "") is now named “\(renamed.key?.name ?? "")”.", for: session.id)
        return redirect("/hub/keys")
    }

    /// X5: an owner revokes their own key (a leaked one), after a confirmation (R12).
    func revokeOwn(_ session: Session, _ form: FormData, _ context: ConsoleRequestContext) async throws -> Response {
        let client = try await backend.client(for: session)
        let keyID = form.text("key_id")
        guard form["confirmed"] == "yes" else {
            let key = try await client.getKey(APIKeysV1.GetKeyRequest(keyID: keyID)).key
            return page("hub-confirm", ["heading": "Revoke this key?", "keyID": keyID, "keyName": key?.name ?? "",
                                        "warning": "Revocation cannot be undone (R12): the key stops working at once and for good.",
                                        "button": "Revoke permanently", "action": "/hub/keys/revoke", "askReason": true],
                        title: "Confirm revoke", nav: "hub", context: context)
        }
        _ = try await client.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: keyID, reason: form.text("reason")))
        sessions.setNotice("Key \(keyID) is revoked.", for: session.id)
        return redirect("/hub/keys")
    }

    /// R13, R19: the owner deletes their key, after a confirmation.
    func deleteOwn(_ session: Session, _ form: FormData, _ context: ConsoleRequestContext) async throws -> Response {
        let client = try await backend.client(for: session)
        let keyID = form.text("key_id")
        guard form["confirmed"] == "yes" else {
            let key = try await client.getKey(APIKeysV1.GetKeyRequest(keyID: keyID)).key
            return page("hub-confirm", ["heading": "Delete this key?", "keyID": keyID, "keyName": key?.name ?? "",
                                        "warning": "Deleting cannot be undone: the key stops working at once and leaves your list.",
                                        "button": "Delete permanently", "action": "/hub/keys/delete", "askReason": false],
                        title: "Confirm delete", nav: "hub", context: context)
        }
        _ = try await client.deleteKey(APIKeysV1.DeleteKeyRequest(keyID: keyID))
        sessions.setNotice("Key \(keyID) is deleted.", for: session.id)
        return redirect("/hub/keys")
    }
}
