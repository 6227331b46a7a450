import APIKeysDomain
import PostgresNIO

/// The one place that turns listings into SQL (X11, R6, R7, X10), with the same order and
/// cursors as ``KeyQuery`` and ``EventQuery`` define for every store.
enum PostgresListing {
    /// One page of keys: filters, keyset cursor on (sort column, id), order, limit.
    ///
    /// R7 is `LIKE '%text%'` on name_lower, id and owner_lower (bytes, case-sensitive: the
    /// search is already lower-cased), which the planner may answer through the trigram
    /// index or by walking a sort index.
    static func keys(_ query: KeyQuery) throws -> PostgresQuery {
        var b = SQLBuilder()
        var conditions = ["k.tenant_id = \(try b.bind(query.tenantID))"]
        if let owner = query.ownerID {
            conditions.append("k.owner_id = \(try b.bind(owner))")
        }
        if let search = query.search, !search.isEmpty {
            let pattern = try b.bind("%" + escapeLike(search) + "%")
            conditions.append(#"(k.name_lower LIKE \#(pattern) ESCAPE '\' OR k.id LIKE \#(pattern) ESCAPE '\' OR k.owner_lower LIKE \#(pattern) ESCAPE '\')"#)
        }
        switch query.status {
        case .active?: conditions.append("k.revoked_at IS NULL AND k.expires_at > \(try b.bind(query.asOf))")
        case .expired?: conditions.append("k.revoked_at IS NULL AND k.expires_at <= \(try b.bind(query.asOf))")
        case .revoked?: conditions.append("k.revoked_at IS NOT NULL")
        case nil: break
        }
        let column: String
        let isText: Bool
        switch query.sort {
        case .name: (column, isText) = ("k.name_lower", true)
        case .id: (column, isText) = ("k.id", true)
        case .owner: (column, isText) = ("k.owner_id", true)
        case .updated: (column, isText) = ("k.updated_at", false)
        case .created: (column, isText) = ("k.created_at", false)
        case .expires: (column, isText) = ("k.expires_at", false)
        case .status:
            // R8 at the listing's fixed time; must equal KeyStatus.rank.
            let asOf = try b.bind(query.asOf)
            (column, isText) = ("(CASE WHEN k.revoked_at IS NOT NULL THEN 2 WHEN k.expires_at <= \(asOf) THEN 1 ELSE 0 END)", false)
        }
        if let after = query.after {
            let comparison = query.descending ? "<" : ">"
            switch after.value {
            case .integer(let n) where !isText:
                conditions.append("(\(column), k.id) \(comparison) (\(try b.bind(n)), \(try b.bind(after.id)))")
            case .text(let text) where isText:
                conditions.append("(\(column), k.id) \(comparison) (\(try b.bind(text)), \(try b.bind(after.id)))")
            case .integer:
                // KeySortValue orders every integer before every text: ascending, every
                // text row is after an integer cursor; descending, none is.
                if query.descending { conditions.append("FALSE") }
            case .text:
                if !query.descending { conditions.append("FALSE") }
            }
        }
        let direction = query.descending ? "DESC" : "ASC"
        let limit = try b.bind(Int64(max(0, query.limit)))
        return b.query("""
            SELECT \(PostgresRows.keyColumns) FROM \(PostgresRows.keyTables)
            WHERE \(conditions.joined(separator: " AND "))
            ORDER BY \(column) \(direction), k.id \(direction)
            LIMIT \(limit)
            """)
    }

    /// One page of events, newest first by (time, id).
    static func events(_ query: EventQuery) throws -> PostgresQuery {
        var b = SQLBuilder()
        var conditions = ["tenant_id = \(try b.bind(query.tenantID))"]
        if let keyID = query.keyID { conditions.append("key_id = \(try b.bind(keyID))") }
        if let action = query.action { conditions.append("action = \(try b.bind(action))") }
        if let actor = query.actor { conditions.append("actor = \(try b.bind(actor))") }
        if let since = query.since { conditions.append("time >= \(try b.bind(since))") }
        if let until = query.until { conditions.append("time <= \(try b.bind(until))") }
        if let before = query.before {
            conditions.append("(time, id) < (\(try b.bind(before.time)), \(try b.bind(Int64(clamping: before.id))))")
        }
        let limit = try b.bind(Int64(max(0, query.limit)))
        return b.query("""
            SELECT \(PostgresRows.eventColumns) FROM event
            WHERE \(conditions.joined(separator: " AND "))
            ORDER BY time DESC, id DESC
            LIMIT \(limit)
            """)
    }

    /// Escapes LIKE's wildcards and its escape character.
    static func escapeLike(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            if c == "%" || c == "_" || c == "\\" { out.unicodeScalars.append("\\") }
            out.unicodeScalars.append(c)
        }
        return out
    }
}
