import APIKeysDomain
import GRDB

/// The one place that turns listings into SQL (X11, R6, R7, X10), so that a faster search
/// (e.g. an FTS5 trigram index at a million keys) can replace the LIKE here alone.
enum SQLiteListing {
    /// The SQL for one page of keys: filters, keyset cursor on (sort column, id), order, limit.
    static func keys(_ query: KeyQuery) -> (sql: String, arguments: StatementArguments) {
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
            conditions.append(#"(name_lower LIKE ? ESCAPE '\' OR id LIKE ? ESCAPE '\' OR owner_lower LIKE ? ESCAPE '\')"#)
            arguments += [pattern, pattern, pattern]
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
        case .id: column = "id"
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
            conditions.append("(\(column), id) \(comparison) (?, ?)")
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
        // them, rather than let the planner walk a tenant-wide sort index.
        let indexHint = query.ownerID == nil ? "" : " INDEXED BY api_key_owner_created"
        let sql = """
            SELECT \(SQLiteQueries.keyColumns) FROM api_key\(indexHint)
            WHERE \(conditions.joined(separator: " AND "))
            ORDER BY \(column) \(direction), id \(direction)
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
            SELECT id, time, tenant_id, actor, action, key_id, outcome, details FROM event
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
