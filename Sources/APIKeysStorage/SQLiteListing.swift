import APIKeysDomain
import GRDB

/// The one place that turns listings into SQL (X11, R6, R7, X10).
///
/// R7 search has two plans. A selective search (its trigrams occur in at most
/// ``searchIndexCandidateLimit`` rows) reads its few rows through the trigram index and sorts
/// them; a common one walks the sort column's index, where matches come often. Both keep the
/// exact substring test, so the index only ever narrows the rows looked at.
enum SQLiteListing {
    /// Above this many rows with the search's trigrams, walking the sort index is cheaper
    /// than fetching and sorting every candidate.
    static let searchIndexCandidateLimit = 2_000

    /// The FTS5 query for `search` on the trigram index: every distinct trigram (up to 16),
    /// quoted. Nil when the search is shorter than a trigram, which the index cannot answer.
    static func trigramQuery(_ search: String) -> String? {
        let scalars = Array(search.unicodeScalars)
        guard scalars.count >= 3 else { return nil }
        var seen = Set<String>()
        var terms: [String] = []
        for start in 0...(scalars.count - 3) where terms.count < 16 {
            var quoted = String.UnicodeScalarView()
            quoted.append("\"")
            for scalar in scalars[start..<(start + 3)] {
                if scalar == "\"" { quoted.append(scalar) }  // FTS5 doubles a quote inside a string
                quoted.append(scalar)
            }
            quoted.append("\"")
            let term = String(quoted)
            if seen.insert(term).inserted { terms.append(term) }
        }
        return terms.joined(separator: " ")
    }

    /// Counts the rows holding every trigram of the search, stopping past the limit.
    static let searchCandidateCount = """
        SELECT COUNT(*) FROM (SELECT 1 FROM api_key_search WHERE api_key_search MATCH ? LIMIT ?)
        """

    /// The SQL for one page of keys: filters, keyset cursor on (sort column, id), order, limit.
    /// `trigramQuery` (from ``trigramQuery(_:)``) reads the candidates through the search index.
    static func keys(_ query: KeyQuery, trigramQuery: String? = nil) -> (sql: String, arguments: StatementArguments) {
        var conditions = ["tenant_id = ?"]
        var arguments: StatementArguments = [query.tenantID]
        if let owner = query.ownerID {
            conditions.append("owner_id = ?")
            arguments += [owner]
        }
        if let search = query.search, !search.isEmpty {
            // R7: case-insensitive substring of name, ID or owner; both sides are lower-cased
            // by Swift, and % _ \ in the search text are matched literally.
            let pattern = "%" + escapeLike(search) + "%"
            conditions.append(#"(name_lower LIKE ? ESCAPE '\' OR api_key.id LIKE ? ESCAPE '\' OR owner_lower LIKE ? ESCAPE '\')"#)
            arguments += [pattern, pattern, pattern]
            if let trigramQuery {
                conditions.append("seq IN (SELECT rowid FROM api_key_search WHERE api_key_search MATCH ?)")
                arguments += [trigramQuery]
            }
        }
        switch query.status {
        case .active?:
            conditions.append("revoked_at IS NULL AND expires_at > ?")
            arguments += [query.asOf]
        case .expired?:
            conditions.append("revoked_at IS NULL AND expires_at <= ?")
            arguments += [query.asOf]
        case .revoked?:
            conditions.append("revoked_at IS NOT NULL")
        case nil:
            break
        }
        let column: String
        var columnArguments: StatementArguments = []
        switch query.sort {
        case .name: column = "name_lower"
        case .id: column = "api_key.id"
        case .owner: column = "owner_id"
        case .updated: column = "updated_at"
        case .created: column = "created_at"
        case .expires: column = "expires_at"
        case .status:
            // R8 at the listing's fixed time; must equal KeyStatus.rank.
            column = "(CASE WHEN revoked_at IS NOT NULL THEN 2 WHEN expires_at <= ? THEN 1 ELSE 0 END)"
            columnArguments = [query.asOf]
        }
        let direction = query.descending ? "DESC" : "ASC"
        if let after = query.after {
            let comparison = query.descending ? "<" : ">"
            conditions.append("(\(column), api_key.id) \(comparison) (?, ?)")
            arguments += columnArguments
            switch after.value {
            case .integer(let n): arguments += [n]
            case .text(let s): arguments += [s]
            }
            arguments += [after.id]
        }
        arguments += columnArguments
        arguments += [query.limit]
        // The hub's rows are one owner's few hundred: find them by the owner index and sort
        // them, rather than let the planner walk a tenant-wide sort index. Likewise a
        // selective search's candidates are fetched by rowid and sorted.
        let indexClause =
            if trigramQuery != nil { " NOT INDEXED" }
            else if query.ownerID != nil { " INDEXED BY api_key_owner_created" }
            else { "" }
        let sql = """
            SELECT \(SQLiteQueries.keyColumns) FROM \(SQLiteQueries.keyTables(indexClause))
            WHERE \(conditions.joined(separator: " AND "))
            ORDER BY \(column) \(direction), api_key.id \(direction)
            LIMIT ?
            """
        return (sql, arguments)
    }

    /// The SQL for one page of events, newest first by (time, id).
    static func events(_ query: EventQuery) -> (sql: String, arguments: StatementArguments) {
        var conditions = ["tenant_id = ?"]
        var arguments: StatementArguments = [query.tenantID]
        if let keyID = query.keyID {
            conditions.append("key_id = ?")
            arguments += [keyID]
        }
        if let action = query.action {
            conditions.append("action = ?")
            arguments += [action]
        }
        if let actor = query.actor {
            conditions.append("actor = ?")
            arguments += [actor]
        }
        if let since = query.since {
            conditions.append("time >= ?")
            arguments += [since]
        }
        if let until = query.until {
            conditions.append("time <= ?")
            arguments += [until]
        }
        if let before = query.before {
            conditions.append("(time, id) < (?, ?)")
            arguments += [before.time, Int64(clamping: before.id)]
        }
        arguments += [query.limit]
        let sql = """
            SELECT id, time, tenant_id, actor, action, key_id, outcome, details, count FROM event
            WHERE \(conditions.joined(separator: " AND "))
            ORDER BY time DESC, id DESC
            LIMIT ?
            """
        return (sql, arguments)
    }

    /// Escapes LIKE's wildcards and its escape character.
    static func escapeLike(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text {
            if c == "%" || c == "_" || c == "\\" { out.append("\\") }
            out.append(c)
        }
        return out
    }
}
