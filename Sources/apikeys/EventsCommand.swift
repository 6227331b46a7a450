import APIKeysClient
import APIKeysWire
import ArgumentParser

/// `apikeys events list`: the tenant's activity, newest first (R9, X10; tenant admin).
struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "Review key activity (tenant admin).", subcommands: [List.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List events, newest first.",
            discussion: "Times are UTC. --since and --until take ISO 8601 or a duration ago (e.g. --since 1h).")

        @Option(help: ArgumentHelp("Only events about this key.", valueName: "key-id")) var keyID: String?
        @Option(help: "Only this action, e.g. key.revoked, key.excessive_use.") var action: String?
        @Option(help: "Only this actor, e.g. user:bob, service:console, operator.") var actor: String?
        @Option(help: ArgumentHelp("From this time on.", valueName: "time"), transform: TimeArgument.absoluteOrAgo)
        var since: Int64?
        @Option(help: ArgumentHelp("Up to this time.", valueName: "time"), transform: TimeArgument.absoluteOrAgo)
        var until: Int64?
        @Option(help: ArgumentHelp("Events per page, 1 to 100 (default 20).", valueName: "n")) var pageSize: UInt32?
        @Option(help: ArgumentHelp("Continue from a previous page.", valueName: "token")) var pageToken: String?
        @Flag(help: "Fetch every page (from --page-token on, if given).") var all = false
        @Flag(help: "The operator's audit log (credential changes, X18), with the operator credential.") var auditLog = false
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        private var kind: CredentialKind { auditLog ? .operator : .user }

        func validate() throws {
            if let pageSize, !(1...100).contains(pageSize) { throw ValidationError("--page-size must be 1 to 100") }
            if let since, let until, since > until { throw ValidationError("--since is after --until") }
            _ = try global.credential(for: kind)
        }

        func run() async throws {
            var request = APIKeysV1.ListEventsRequest(keyID: keyID ?? "", action: action ?? "", actor: actor ?? "",
                                            sinceMs: since ?? 0, untilMs: until ?? 0,
                                            pageSize: pageSize ?? 0, pageToken: "")
            let (events, next) = try await global.withClient(kind) { client in
                try await Pages.collect(from: pageToken ?? "", all: all) { token in
                    request.pageToken = token
                    let page = try await client.listEvents(request)
                    return (page.events, page.nextPageToken)
                }
            }
            if global.json {
                Output.json(.object(["events": .array(events.map(\.json)), "nextPageToken": .string(next)]))
                return
            }
            Output.line(events.isEmpty ? "No events." : Self.table(events))
            if !next.isEmpty { Output.line("More events: add --page-token \(next) (or --all)") }
        }

        static func table(_ events: [APIKeysV1.Event]) -> String {
            var table = Table("TIME", "ACTION", "ACTOR", "KEY", "OUTCOME", "DETAILS")
            for event in events {
                table.append(Timestamp.seconds(event.timeMs), event.action, event.actor,
                             event.keyID.isEmpty ? "-" : event.keyID, event.outcome, event.detailsText)
            }
            return table.rendered()
        }
    }
}
