import APIKeysClient
import APIKeysWire
import Hummingbird
import Logging

extension Console {
    /// The R6 columns, in order, with the sort field each one's header asks for.
    static let keyColumns: [(param: String, label: String, field: APIKeysV1.KeySortField)] = [
        ("name", "Name", .name), ("id", "ID", .id), ("owner", "Owner", .owner),
        ("updated", "Last updated", .updated), ("created", "Created", .created),
        ("expires", "Expiry", .expires), ("status", "Status", .status),
    ]

    static let statusFilters: [(param: String, label: String, status: APIKeysV1.KeyStatus)] = [
        ("", "Any status", .unspecified), ("active", "Active", .active),
        ("expired", "Expired", .expired), ("revoked", "Revoked", .revoked),
    ]

    /// Console › API keys: the tenant's keys (X11), searched (R7), filtered, sorted, paged.
    func keysPage(_ session: Session, _ query: FormData, _ context: ConsoleRequestContext) async throws -> Response {
        let search = query.text("search")
        let statusParam = query.text("status")
        let status = Self.statusFilters.first { $0.param == statusParam } ?? Self.statusFilters[0]
        let sort = Self.keyColumns.first { $0.param == query.text("sort") } ?? Self.keyColumns[4]
        let descending = query["order"].map { $0 != "asc" } ?? true
        let pageToken = query.text("page_token")

        let client = try await backend.client(for: session)
        let listed = try await client.listKeys(APIKeysV1.ListKeysRequest(search: search, status: status.status, sortBy: sort.field,
                                                                descending: descending, pageSize: 20, pageToken: pageToken))
        let base: [(String, String)] = [("search", search), ("status", status.param)]
        let order = descending ? "desc" : "asc"
        let columns: [[String: Any]] = Self.keyColumns.map { column in
            let current = column.param == sort.param
            // A click on the sorted column flips its order; on another, sorts ascending.
            let next = current && !descending ? "desc" : "asc"
            var item: [String: Any] = ["label": column.label,
                                       "href": "/console/keys?" + FormData.query(base + [("sort", column.param), ("order", next)]),
                                       "arrow": current ? (descending ? " ▼" : " ▲") : ""]
            if current { item["ariaSort"] = descending ? "descending" : "ascending" }
            return item
        }
        var data: [String: Any] = [
            "search": search, "sort": sort.param, "order": order,
            "statusOptions": Self.statusFilters.map { ["value": $0.param, "label": $0.label, "selected": $0.param == status.param] },
            "columns": columns, "descending": descending,
            "sortOptions": Self.keyColumns.map { ["value": $0.param, "label": $0.label, "selected": $0.param == sort.param] },
            "keys": listed.keys.map(Display.key),
            "caption": search.isEmpty ? "API keys, sorted by \(sort.label.lowercased())" : "API keys matching “\(search)”",
        ]
        let here = base + [("sort", sort.param), ("order", order)]
        if !listed.nextPageToken.isEmpty {
            data["nextHref"] = "/console/keys?" + FormData.query(here + [("page_token", listed.nextPageToken)])
        }
        if !pageToken.isEmpty { data["firstHref"] = "/console/keys?" + FormData.query(here) }
        return page("keys", data, title: "API keys", nav: "keys", context: context, isAdmin: true)
    }

    /// The key table's form: first a confirmation page (R12), then the revoke itself. One
    /// row's Revoke (R10) sends `only`; Revoke selected (R11) sends each ticked `key_id`.
    func revokeFromTable(_ session: Session, _ form: FormData, _ context: ConsoleRequestContext) async throws -> Response {
        var ids = form["only"].map { [$0] } ?? form.all("key_id")
        ids = ids.filter { !$0.isEmpty }
        var seen = Set<String>()
        ids = ids.filter { seen.insert($0).inserted }
        guard !ids.isEmpty else {
            sessions.setNotice("Select at least one key to revoke.", for: session.id)
            return redirect("/console/keys")
        }
        let client = try await backend.client(for: session)
        guard form["confirmed"] == "yes" else {
            var keys: [[String: Any]] = []
            for id in ids {
                // Names help the admin check what they picked; a key gone since is listed by ID.
                if ids.count <= 25, let key = try? await client.getKey(APIKeysV1.GetKeyRequest(keyID: id)).key {
                    keys.append(Display.key(key))
                } else {
                    keys.append(["id": id])
                }
            }
            let countText = ids.count == 1 ? "this key" : "these \(ids.count) keys"
            return page("revoke-confirm", ["keys": keys, "countText": countText, "action": "/console/keys/revoke",
                                           "cancel": "/console/keys"],
                        title: "Confirm revoke", nav: "keys", context: context, isAdmin: true)
        }
        let reason = form.text("reason")
        var results: [[String: Any]] = []
        if ids.count == 1 {
            do {
                _ = try await client.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: ids[0], reason: reason))
                results.append(Self.outcome(ids[0], .revoked, ""))
            } catch let error as RPCError {
                let outcome: APIKeysV1.RevokeOutcome = switch error.code {
                case .notFound: .notFound
                case .failedPrecondition: .notActive
                case .permissionDenied: .permissionDenied
                default: .unspecified
                }
                results.append(Self.outcome(ids[0], outcome, RefusalText.describe(error)))
            }
        } else {
            let response = try await client.revokeKeys(APIKeysV1.RevokeKeysRequest(keyIDs: ids, reason: reason))
            results = response.results.map { Self.outcome($0.keyID, $0.outcome, $0.message) }
        }
        let revoked = results.filter { ($0["css"] as? String) == "revoked-ok" }.count
        let summary = "\(revoked) of \(results.count) \(results.count == 1 ? "key" : "keys") revoked."
        return page("revoke-results", ["results": results, "summary": summary],
                    title: "Revoke results", nav: "keys", context: context, isAdmin: true)
    }

    static func outcome(_ id: String, _ outcome: APIKeysV1.RevokeOutcome, _ message: String) -> [String: Any] {
        let (label, css): (String, String) = switch outcome {
        case .revoked: ("Revoked", "revoked-ok")
        case .notFound: ("Not found", "not-found")
        case .notActive: ("Not active", "not-active")
        case .permissionDenied: ("Permission denied", "denied")
        case .unspecified: ("Failed", "failure")
        }
        return ["id": id, "outcome": label, "css": css, "message": message]
    }
}
