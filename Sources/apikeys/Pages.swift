/// Paging for the list commands: one page, or with --all every page from the given token on.
enum Pages {
    /// Stops --all if a server ever hands back the same token forever.
    static let maxPages = 10_000

    /// The items of the page at `token` (and with `all`, of every later page) and the token
    /// of the page after them: empty once the last page was read.
    static func collect<Item>(from token: String, all: Bool,
                              _ fetch: (String) async throws -> (items: [Item], next: String)) async throws -> (items: [Item], next: String) {
        var items: [Item] = []
        var token = token
        var seen: Set<String> = []
        for _ in 0..<maxPages {
            let page = try await fetch(token)
            items += page.items
            guard all, !page.next.isEmpty, seen.insert(page.next).inserted else { return (items, page.next) }
            token = page.next
        }
        return (items, token)
    }
}
