import APIKeysDomain
import PostgresNIO

extension PostgresKeyStore {
    /// X9 across servers, in READ COMMITTED: usage is additive, so servers flushing at once
    /// add to each other's totals instead of failing each other. A handful of statements,
    /// each over arrays (the flush may carry tens of thousands of keys), rows touched in key
    /// order so concurrent flushes lock them in one order.
    public func recordUsage(_ batch: UsageBatch) throws {
        guard !batch.isEmpty else { return }
        let windows = Self.combined(batch.windows)
        try transaction(isolation: "READ COMMITTED") { tx in
            let s = tx.session
            if !batch.usage.isEmpty {
                try addUsage(batch.usage, s)
            }
            var events = batch.events
            if !windows.isEmpty {
                events += try addWindows(windows, s)
            }
            if !batch.expiryRecorded.isEmpty {
                try s.execute("""
                    UPDATE api_key SET expiry_recorded = true WHERE id = ANY(\(batch.expiryRecorded)) AND NOT expiry_recorded
                    """, "recording expiries")
            }
            if !events.isEmpty {
                try insertEvents(events, s)
            }
        }
    }

    /// Adds counts and raises last-used; keys deleted since their use are skipped.
    private func addUsage(_ usage: [UsageBatch.Usage], _ s: PostgresSession) throws {
        try s.execute("""
            INSERT INTO key_usage AS u (key_id, use_count, last_used_at)
            SELECT b.key_id COLLATE "C", SUM(b.n)::bigint, MAX(b.t)
            FROM unnest(\(usage.map(\.keyID)), \(usage.map { Int64(clamping: $0.count) }), \(usage.map(\.lastUsedAt)))
                AS b (key_id, n, t)
            WHERE EXISTS (SELECT 1 FROM api_key k WHERE k.id = b.key_id)
            GROUP BY 1 ORDER BY 1
            ON CONFLICT (key_id) DO UPDATE SET
                use_count = u.use_count + excluded.use_count,
                last_used_at = GREATEST(u.last_used_at, excluded.last_used_at)
            """, "recording usage")
    }

    /// Adds this server's counts to each window's total and returns the excessive-use events
    /// of the windows this batch made cross their threshold. The upsert locks each window row
    /// until commit, so of two servers crossing together one sees the other's `raised`.
    private func addWindows(_ windows: [UsageBatch.WindowUsage], _ s: PostgresSession) throws -> [Event] {
        let ids = windows.map(\.keyID), starts = windows.map(\.window)
        try s.execute("""
            INSERT INTO usage_window AS w (key_id, window_start, count)
            SELECT * FROM unnest(\(ids), \(starts), \(windows.map { Int64(clamping: $0.count) }))
            ORDER BY 1, 2
            ON CONFLICT (key_id, window_start) DO UPDATE SET count = w.count + excluded.count
            """, "recording usage windows")
        let crossed = try s.rows("""
            UPDATE usage_window w SET raised = true
            FROM unnest(\(ids), \(starts), \(windows.map { Int64(clamping: $0.threshold) }), \(Array(Int64(0)..<Int64(windows.count))))
                AS b (key_id, window_start, threshold, i)
            WHERE w.key_id = b.key_id AND w.window_start = b.window_start AND NOT w.raised AND w.count > b.threshold
            RETURNING b.i
            """, "raising excessive use")
        // Older windows can no longer cross; rows another flush holds are left for the next.
        if let oldest = starts.min() {
            try s.execute("""
                DELETE FROM usage_window WHERE (key_id, window_start) IN (
                    SELECT key_id, window_start FROM usage_window WHERE window_start < \(oldest - 1) FOR UPDATE SKIP LOCKED)
                """, "forgetting old usage windows")
        }
        return try crossed.map { windows[Int(try $0.makeRandomAccess()[0].decode(Int64.self))].event }.sorted { $0.time < $1.time }
    }

    private func insertEvents(_ events: [Event], _ s: PostgresSession) throws {
        try s.execute("""
            INSERT INTO event (time, tenant_id, actor, action, key_id, outcome, details, count)
            SELECT time, tenant_id, actor, action, CASE WHEN has_key THEN key_id END, outcome, details, count
            FROM unnest(\(events.map(\.time)), \(events.map(\.tenantID)), \(events.map(\.actor)), \(events.map(\.action)),
                \(events.map { $0.keyID != nil }), \(events.map { $0.keyID ?? "" }), \(events.map(\.outcome.rawValue)),
                \(try events.map { try PostgresRows.encodeDetails($0.details) }), \(events.map { Int64(clamping: $0.count) }))
                WITH ORDINALITY AS e (time, tenant_id, actor, action, has_key, key_id, outcome, details, count, n)
            ORDER BY n
            """, "recording events")
    }

    /// One entry per key and window (a batch may repeat one): counts add, the first event stays.
    static func combined(_ windows: [UsageBatch.WindowUsage]) -> [UsageBatch.WindowUsage] {
        struct Slot: Hashable { var key: ExactString; var window: Int64 }
        var index: [Slot: Int] = [:]
        var out: [UsageBatch.WindowUsage] = []
        for w in windows {
            let slot = Slot(key: ExactString(w.keyID), window: w.window)
            if let i = index[slot] {
                out[i].count += w.count
            } else {
                index[slot] = out.count
                out.append(w)
            }
        }
        return out
    }
}
