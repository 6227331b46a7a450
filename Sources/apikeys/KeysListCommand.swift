import APIKeysClient
import APIKeysWire
import ArgumentParser

/// `apikeys keys list`: the key table of R6 with search (R7), filter, sort and paging (X11).
struct KeysListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List keys: a tenant admin sees all of the tenant's, others their own.")

    enum StatusFilter: String, ExpressibleByArgument, CaseIterable {
        case active, expired, revoked

        var status: APIKeysV1.KeyStatus {
            switch self {
            case .active: .active
            case .expired: .expired
            case .revoked: .revoked
            }
        }
    }

    enum SortColumn: String, ExpressibleByArgument, CaseIterable {
        case name, id, owner, updated, created, expires, status

        var field: APIKeysV1.KeySortField {
            switch self {
            case .name: .name
            case .id: .id
            case .owner: .owner
            case .updated: .updated
            case .created: .created
            case .expires: .expires
            case .status: .status
            }
        }
    }

    @Option(help: "Case-insensitive text in the name, ID or owner (R7).") var search: String?
    @Option(help: "Only keys with this status.") var status: StatusFilter?
    @Option(help: "Sort by this column (default: created).") var sort: SortColumn?
    @Flag(help: "Sort descending.") var desc = false
    @Option(help: ArgumentHelp("Keys per page, 1 to 100 (default 20).", valueName: "n")) var pageSize: UInt32?
    @Option(help: ArgumentHelp("Continue from a previous page.", valueName: "token")) var pageToken: String?
    @Flag(help: "Fetch every page (from --page-token on, if given).") var all = false
    @OptionGroup(title: "Global Options") var global: GlobalOptions

    func validate() throws {
        if let pageSize, !(1...100).contains(pageSize) { throw ValidationError("--page-size must be 1 to 100") }
        _ = try global.credential(for: .user)
    }

    func run() async throws {
        var request = APIKeysV1.ListKeysRequest(search: search ?? "", status: status?.status ?? .unspecified,
                                      sortBy: sort?.field ?? .unspecified, descending: desc,
                                      pageSize: pageSize ?? 0, pageToken: "")
        let (keys, next) = try await global.withClient(.user) { client in
            try await Pages.collect(from: pageToken ?? "", all: all) { token in
                request.pageToken = token
                let page = try await client.listKeys(request)
                return (page.keys, page.nextPageToken)
            }
        }
        if global.json {
            Output.json(.object(["keys": .array(keys.map(\.json)), "nextPageToken": .string(next)]))
            return
        }
        Output.line(keys.isEmpty ? "No keys." : Self.table(keys))
        if !next.isEmpty { Output.line("More keys: add --page-token \(next) (or --all)") }
    }

    static func table(_ keys: [APIKeysV1.ApiKey]) -> String {
        var table = Table("NAME", "ID", "OWNER", "LAST UPDATED", "CREATED", "EXPIRES", "STATUS")
        for key in keys {
            table.append(key.name, key.id, key.ownerID, Timestamp.minutes(key.updatedAtMs),
                         Timestamp.minutes(key.createdAtMs), Timestamp.minutes(key.expiresAtMs), key.status.label)
        }
        return table.rendered()
    }
}
