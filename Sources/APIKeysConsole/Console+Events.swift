import APIKeysClient
import APIKeysWire
import Foundation
import Hummingbird
import Logging

extension Console {
    /// The actions an admin filters by (X10).
    static let eventActions = [
        "key.generated", "key.renamed", "key.revoked", "key.deleted", "key.expired", "key.verify_failed",
        "key.excessive_use", "settings.changed", "user.created", "user.role_assigned", "user.role_removed",
        "user.license_changed", "user.removed", "permission.denied",
    ]

    /// Console › Events: newest first, filtered by key ID, action, actor and time (X10);
    /// each event's details offer its key ID to copy and a link to the key table searched
    /// by it (the R9 flow).
    func eventsPage(_ session: Session, _ query: FormData, _ context: ConsoleRequestContext) async throws -> Response {
        let keyID = query.text("key_id"), action = query.text("action"), actor = query.text("actor")
        let since = query.text("since"), until = query.text("until"), pageToken = query.text("page_token")
        var request = APIKeysV1.ListEventsRequest(keyID: keyID, action: action, actor: actor, pageSize: 50, pageToken: pageToken)
        if !since.isEmpty {
            guard let ms = Self.utcMilliseconds(since) else { return badTime(since, context) }
            request.sinceMs = ms
        }
        if !until.isEmpty {
            guard let ms = Self.utcMilliseconds(until) else { return badTime(until, context) }
            request.untilMs = ms
        }
        let client = try await backend.client(for: session)
        let listed = try await client.listEvents(request)
        let events: [[String: Any]] = listed.events.map { event in
            let outcomeClass = switch event.outcome {
            case "success": "success"
            case "denied": "denied"
            default: "failure"
            }
            return ["eventID": "\(event.id)", "time": Display.time(event.timeMs), "action": event.action,
                    "actor": event.actor, "keyID": event.keyID, "hasKey": !event.keyID.isEmpty,
                    "outcome": event.outcome, "outcomeClass": outcomeClass,
                    "repeated": event.count > 1, "count": "\(event.count)",
                    "details": event.details.sorted { $0.key < $1.key }.map { ["name": $0.key, "value": $0.value] }]
        }
        var options: [[String: Any]] = [["value": "", "label": "Any action", "selected": action.isEmpty]]
        options += Self.eventActions.map { ["value": $0, "label": $0, "selected": $0 == action] }
        if !action.isEmpty, !Self.eventActions.contains(action) {
            options.append(["value": action, "label": action, "selected": true])
        }
        let filters: [(String, String)] = [("key_id", keyID), ("action", action), ("actor", actor), ("since", since), ("until", until)]
        var data: [String: Any] = ["keyID": keyID, "actor": actor, "since": since, "until": until,
                                   "actionOptions": options, "events": events,
                                   "filtered": filters.contains { !$0.1.isEmpty }]
        if !listed.nextPageToken.isEmpty {
            data["nextHref"] = "/console/events?" + FormData.query(filters + [("page_token", listed.nextPageToken)])
        }
        if !pageToken.isEmpty { data["firstHref"] = "/console/events?" + FormData.query(filters) }
        return page("events", data, title: "Events", nav: "events", context: context, isAdmin: true)
    }

    private func badTime(_ text: String, _ context: ConsoleRequestContext) -> Response {
        page("message", ["heading": "Unreadable time", "text": "“\(text)” is not a time like 2026-11-30T14:05."],
             title: "Events", nav: "events", context: context, status: .badRequest, isAdmin: true)
    }

    /// `2026-11-30T14:05` (what a datetime-local field sends), read as UTC.
    static func utcMilliseconds(_ text: String) -> Int64? {
        let parts = text.split(whereSeparator: { "-T:".contains($0) }).map { Int($0) }
        guard parts.count >= 5, parts.allSatisfy({ $0 != nil }) else { return nil }
        var components = DateComponents()
        components.year = parts[0]; components.month = parts[1]; components.day = parts[2]
        components.hour = parts[3]; components.minute = parts[4]
        components.second = parts.count > 5 ? parts[5] : 0
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard let date = calendar.date(from: components) else { return nil }
        return Int64(date.timeIntervalSince1970 * 1000)
    }
}
