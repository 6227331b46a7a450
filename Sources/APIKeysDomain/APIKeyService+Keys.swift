import Foundation

/// The key lifecycle: generate, list, get, rename, revoke, delete (R4, R6–R19, X1–X6, X11, X12).
extension APIKeyService {
    /// R17, R18: generates a key for the caller and returns its secret once.
    ///
    /// Refused, each with its own message: no license (R17 `no_license`), API keys disabled
    /// (R17/X4 `api_keys_disabled`), no Developer role (R4 `not_developer`), too many Active keys
    /// (R16/X3 `key_limit`), a bad name (X12) or expiry (X2).
    public func generate(_ caller: Caller, name rawName: String, expiry: Expiry = .tenantMaximum) throws(DomainError) -> GeneratedKey {
        try authorize(caller, .generateKey)
        let member = try member(caller)
        return try perform(caller, operation: EventAction.keyGenerated) { tx, changes in
            guard let tenant = try tx.tenant(id: member.tenantID) else {
                throw DomainError.notFound("this tenant does not exist", reason: "tenant_not_found")
            }
            // The same decision as above, on what this transaction reads (X13: roles are current).
            let user = try check(caller, .generator, in: tx)!
            let name = try Validation.keyName(rawName)
            let time = now
            let latest = time + Int64(tenant.settings.maxExpirySeconds) * 1000
            let expiresAt: Int64 = switch expiry {
            case .tenantMaximum: latest
            case .at(let at): at
            case .inSeconds(let s): s > UInt64(Int64.max / 1000) ? Int64.max : time &+ Int64(s) * 1000
            }
            guard expiresAt > time else {
                throw DomainError.invalidArgument("the expiry must be in the future", rule: "X2", reason: "expiry_in_past")
            }
            guard expiresAt <= latest else {
                throw DomainError.invalidArgument("the expiry is beyond the tenant's maximum of \(tenant.settings.maxExpirySeconds) seconds from now", rule: "X2", reason: "expiry_beyond_maximum")
            }
            let active = try tx.countActiveKeys(tenantID: member.tenantID, ownerID: member.userID, asOf: time)
            guard active < Int(tenant.settings.maxKeysPerUser) else {
                throw DomainError(.resourceExhausted, "user \(Validation.quoted(user.userID)) has \(active) active keys; the tenant allows at most \(tenant.settings.maxKeysPerUser)", rule: "R16", reason: "key_limit")
            }
            let generated = SecretCodec.generate(.apiKey)
            let key = APIKey(
                id: generated.id, tenantID: member.tenantID, ownerID: member.userID, name: name,
                createdAt: time, updatedAt: time, expiresAt: expiresAt, secretHash: generated.hash)
            try tx.insertKey(key)
            try tx.insertEvent(event(caller, tenantID: member.tenantID, action: EventAction.keyGenerated, keyID: key.id, details: [
                "name": name, "expires_at_ms": String(expiresAt), "rule": "R18",
            ], at: time))
            changes.append(.key(key))
            return GeneratedKey(key: key, secret: generated.secret)
        }
    }

    /// X11: a tenant admin lists every key of the tenant, anyone else their own; R7 search,
    /// status filter, sort by any R6 column, keyset paging stable under concurrent inserts.
    public func list(_ caller: Caller, _ request: KeyListRequest) throws(DomainError) -> KeyPage {
        let me = try authorize(caller, .listKeys)!
        return try reading(caller, operation: "key.list") {
            let size = try Validation.pageSize(request.pageSize)
            let search = try Validation.search(request.search)
            let owner = me.isTenantAdmin ? nil : me.userID
            let fingerprint = PageToken.fingerprint([
                me.tenantID, owner ?? "*", search, request.status?.rawValue ?? "", request.sortBy.rawValue,
                String(request.descending),
            ])
            var query = KeyQuery(
                tenantID: me.tenantID, ownerID: owner, search: search.isEmpty ? nil : search, status: request.status,
                sort: request.sortBy, descending: request.descending, asOf: now, limit: size + 1)
            if !request.pageToken.isEmpty {
                let token = try PageToken.decode(request.pageToken, as: PageToken.KeyToken.self, fingerprint: fingerprint)
                query.asOf = token.t
                guard let value = token.n.map(KeySortValue.integer) ?? token.s.map(KeySortValue.text) else {
                    throw DomainError.invalidArgument("the page token is not one this server issued", rule: "X11", reason: "invalid_page_token")
                }
                query.after = KeyCursor(value: value, id: token.i)
            }
            var keys = try store.listKeys(query)
            var next = ""
            if keys.count > size {
                keys.removeLast(keys.count - size)
                let last = keys[keys.count - 1]
                var token = PageToken.KeyToken(f: fingerprint, t: query.asOf, i: last.id)
                switch query.sortValue(of: last) {
                case .integer(let n): token.n = n
                case .text(let s): token.s = s
                }
                next = PageToken.encode(token)
            }
            index.observeExpired(keys, now: now, actor: caller.actor)
            return KeyPage(keys: keys.map(withPendingUsage), nextPageToken: next)
        }
    }

    /// The owner or a tenant admin reads a key; another tenant's key is NOT_FOUND (X1).
    public func get(_ caller: Caller, keyID: String) throws(DomainError) -> APIKey {
        let me = try authorize(caller, .getKey)!
        return try reading(caller, operation: "key.get", keyID: Self.plausibleKeyID(keyID)) {
            let key = try visibleKey(keyID, to: me, store)
            if let refusal = AccessPolicy.decide(.keyReader(owner: key.ownerID), caller: caller, user: me, apiKeysEnabled: nil) {
                throw refusal
            }
            index.observeExpired([key], now: now, actor: caller.actor)
            return withPendingUsage(key)
        }
    }

    /// R19: the owner renames their key (X12 name rules).
    public func rename(_ caller: Caller, keyID: String, name rawName: String) throws(DomainError) -> APIKey {
        try authorize(caller, .renameKey)
        let member = try member(caller)
        return try perform(caller, operation: EventAction.keyRenamed, keyID: Self.plausibleKeyID(keyID)) { tx, changes in
            var key = try visibleKey(keyID, tenantID: member.tenantID, tx)
            _ = try check(caller, .keyRenamer(owner: key.ownerID), in: tx)
            let name = try Validation.keyName(rawName)
            let old = key.name
            key.name = name
            key.updatedAt = now
            try tx.updateKey(key)
            try tx.insertEvent(event(caller, tenantID: member.tenantID, action: EventAction.keyRenamed, keyID: keyID, details: [
                "old_name": old, "name": name, "rule": "R19",
            ], at: key.updatedAt))
            changes.append(.key(key))
            return withPendingUsage(key)
        }
    }

    /// R10, X5: the owner or a tenant admin revokes an Active key; R12: for good.
    public func revoke(_ caller: Caller, keyID: String, reason rawReason: String = "") throws(DomainError) -> APIKey {
        try authorize(caller, .revokeKey)
        let member = try member(caller)
        return try perform(caller, operation: EventAction.keyRevoked, keyID: Self.plausibleKeyID(keyID)) { tx, changes in
            let reason = try Validation.revokeReason(rawReason)
            let user = try tx.user(tenantID: member.tenantID, userID: member.userID)
            let key = try visibleKey(keyID, tenantID: member.tenantID, tx)
            let revoked = try revokeChecked(key, by: caller, user: user, reason: reason, tx, &changes)
            return withPendingUsage(revoked)
        }
    }

    /// R11, X6: revokes several keys in one transaction with an outcome per key; keys that
    /// can be revoked are revoked even when others cannot. Each refusal is an event too,
    /// merged per action and reason (X20). The reason is bounded (X16), so a request writes
    /// at most 1,000 × 512 bytes of it however large it was.
    public func revokeMany(_ caller: Caller, keyIDs: [String], reason rawReason: String = "") throws(DomainError) -> [RevokeResult] {
        try authorize(caller, .revokeKeys)
        let member = try member(caller)
        guard (1...1000).contains(keyIDs.count) else {
            throw .invalidArgument("give 1 to 1000 key IDs to revoke", rule: "R11", reason: "invalid_key_count")
        }
        // Nothing is written for a request whose answer could not fit in a frame.
        guard keyIDs.allSatisfy({ $0.utf8.count <= 128 }) else {
            throw .invalidArgument("a key ID has at most 128 characters", rule: "R11", reason: "invalid_key_id")
        }
        var refused: [(event: Event, count: UInt64)] = []
        let results = try perform(caller, operation: EventAction.keyRevoked) { tx, changes in
            let reason = try Validation.revokeReason(rawReason)
            let user = try tx.user(tenantID: member.tenantID, userID: member.userID)
            var results: [RevokeResult] = []
            refused = []  // a store that retries the transaction re-runs the body
            for keyID in keyIDs {
                do {
                    let key = try visibleKey(keyID, tenantID: member.tenantID, tx)
                    _ = try revokeChecked(key, by: caller, user: user, reason: reason, tx, &changes)
                    results.append(RevokeResult(keyID: keyID, outcome: .revoked, message: "revoked"))
                } catch let error as DomainError {
                    let outcome: RevokeResult.Outcome = switch error.code {
                    case .notFound: .notFound
                    case .permissionDenied: .permissionDenied
                    default: .notActive
                    }
                    let refusal = error.code == .permissionDenied
                        ? EventAction.permissionDenied : EventAction.keyRevoked
                    var details = ["reason": error.reason, "rule": error.rule, "message": error.message]
                    if error.code == .permissionDenied { details["operation"] = EventAction.keyRevoked }
                    let shown = Self.plausibleKeyID(keyID)
                    let record = event(
                        caller, tenantID: member.tenantID, action: refusal, keyID: shown,
                        outcome: error.code == .notFound ? .failure : .denied, details: details, at: now)
                    // X20: one event per action and reason, counting the keys it stands for.
                    if let i = refused.firstIndex(where: { $0.event.action == refusal && $0.event.details["reason"] == error.reason }) {
                        refused[i].count += 1
                    } else {
                        refused.append((record, 1))
                    }
                    // Only what could be a key ID goes back (X19: a pasted secret is not echoed).
                    results.append(RevokeResult(keyID: shown ?? "[not a key ID]", outcome: outcome, message: error.message))
                }
            }
            return results
        }
        for (event, count) in refused { storeRefusal(event, count: count) }
        return results
    }

    /// R13, R19, R4: the owner, holding the Developer role, deletes their key. A tenant admin
    /// cannot delete another user's key; they revoke it instead.
    public func delete(_ caller: Caller, keyID: String) throws(DomainError) {
        try authorize(caller, .deleteKey)
        let member = try member(caller)
        try perform(caller, operation: EventAction.keyDeleted, keyID: Self.plausibleKeyID(keyID)) { tx, changes in
            let key = try visibleKey(keyID, tenantID: member.tenantID, tx)
            _ = try check(caller, .keyDeleter(owner: key.ownerID), in: tx)
            try tx.deleteKey(id: keyID)
            try tx.insertEvent(event(caller, tenantID: member.tenantID, action: EventAction.keyDeleted, keyID: keyID, details: [
                "name": key.name, "rule": "R13",
            ], at: now))
            changes.append(.keyRemoved(id: keyID))
        }
    }

    // MARK: Helpers

    /// X1: a key of the given tenant, or NOT_FOUND (also for another tenant's key).
    func visibleKey(_ keyID: String, tenantID: String, _ reader: any StoreReader) throws -> APIKey {
        guard let shown = Self.plausibleKeyID(keyID) else {
            // Not even shaped like a key ID (perhaps a secret pasted into the wrong field, X7):
            // looked up nowhere, and never repeated back or kept in an event.
            throw DomainError.notFound("no such key in this tenant (key IDs look like key_…)", reason: "key_not_found")
        }
        guard let key = try reader.key(id: shown), key.tenantID.isByteEqual(to: tenantID) else {
            throw DomainError.notFound("no key \(shown) in this tenant", reason: "key_not_found")
        }
        return key
    }

    /// The key ID if it could be one (short, lower-case letters, digits, `_` and `-`); nil for
    /// anything else, which is then neither stored in events nor echoed (X7: a secret pasted
    /// into a key-ID field must not end up readable by every admin; X10 events stay small).
    static func plausibleKeyID(_ keyID: String) -> String? {
        guard !keyID.isEmpty, keyID.utf8.count <= 40, keyID.utf8.allSatisfy({ byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }) else { return nil }
        return keyID
    }

    func visibleKey(_ keyID: String, to user: User, _ reader: any StoreReader) throws -> APIKey {
        try visibleKey(keyID, tenantID: user.tenantID, reader)
    }

    /// X5, R10, R12: the checks and the write of one revocation; `reason` is checked already
    /// (``Validation/revokeReason(_:)``).
    func revokeChecked(
        _ key: APIKey, by caller: Caller, user: User?, reason: String,
        _ tx: any StoreTransaction, _ changes: inout [VerificationIndex.Change]
    ) throws -> APIKey {
        if let refusal = AccessPolicy.decide(.keyRevoker(owner: key.ownerID), caller: caller, user: user, apiKeysEnabled: nil) {
            throw refusal
        }
        let time = now
        let status = key.status(at: time)
        guard status == .active else {
            throw DomainError(.failedPrecondition, "key \(key.id) is \(status.rawValue); only Active keys can be revoked", rule: "R10", reason: "not_active")
        }
        var key = key
        key.revokedAt = time
        key.updatedAt = time
        key.revokeReason = reason
        try tx.updateKey(key)
        var details = ["rule": "R10", "owner": key.ownerID]
        if !reason.isEmpty { details["reason"] = reason }
        try tx.insertEvent(event(caller, tenantID: key.tenantID, action: EventAction.keyRevoked, keyID: key.id, details: details, at: time))
        changes.append(.key(key))
        return key
    }

    /// X9: shows usage counted since the last flush.
    func withPendingUsage(_ key: APIKey) -> APIKey {
        guard let pending = index.pendingUsage(keyID: key.id) else { return key }
        var key = key
        key.useCount += pending.count
        key.lastUsedAt = max(key.lastUsedAt ?? 0, pending.lastUsedAt)
        return key
    }
}
