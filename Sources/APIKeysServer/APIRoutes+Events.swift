import APIKeysDomain
import APIKeysWire

/// `apikeys.v1.Events`: the event log.
extension APIRoutes: APIKeysV1.EventsHandler {
    func list(_ r: APIKeysV1.ListEventsRequest, call: ServerCall) async throws -> APIKeysV1.ListEventsResponse {
        try await run(APIKeysV1.Events.Method.list, call) { caller throws(DomainError) in
            let page = try service.listEvents(caller, EventListRequest(
                keyID: r.keyID, action: r.action, actor: r.actor, since: r.sinceMs, until: r.untilMs,
                pageSize: Int(r.pageSize), pageToken: r.pageToken))
            return APIKeysV1.ListEventsResponse(events: page.events.map(APIKeysV1.Event.init), nextPageToken: page.nextPageToken)
        }
    }
}
