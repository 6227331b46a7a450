import APIKeysDomain
import APIKeysWire

/// `apikeys.v1.Keys`: API keys.
extension APIRoutes: APIKeysV1.KeysHandler {
    func generate(_ r: APIKeysV1.GenerateKeyRequest, call: ServerCall) async throws -> APIKeysV1.GenerateKeyResponse {
        try await run(APIKeysV1.Keys.Method.generate, call) { caller throws(DomainError) in
            let expiry: Expiry
            switch r.expiry {
            case .expiresAtMs(let at): expiry = .at(at)
            case .expiresInSeconds(let seconds): expiry = .inSeconds(seconds)
            case nil: expiry = .tenantMaximum
            }
            let generated = try service.generate(caller, name: r.name, expiry: expiry)
            return APIKeysV1.GenerateKeyResponse(key: .init(generated.key, at: service.clock.nowMilliseconds), secret: generated.secret)
        }
    }

    func list(_ r: APIKeysV1.ListKeysRequest, call: ServerCall) async throws -> APIKeysV1.ListKeysResponse {
        try await run(APIKeysV1.Keys.Method.list, call) { caller throws(DomainError) in
            let request = KeyListRequest(
                search: r.search, status: try KeyStatus(filter: r.status),
                sortBy: KeySortField(r.sortBy), descending: r.descending,
                pageSize: Int(r.pageSize), pageToken: r.pageToken)
            let page = try service.list(caller, request)
            let now = service.clock.nowMilliseconds
            return APIKeysV1.ListKeysResponse(keys: page.keys.map { APIKeysV1.ApiKey($0, at: now) }, nextPageToken: page.nextPageToken)
        }
    }

    func get(_ r: APIKeysV1.GetKeyRequest, call: ServerCall) async throws -> APIKeysV1.GetKeyResponse {
        try await run(APIKeysV1.Keys.Method.get, call) { caller throws(DomainError) in
            APIKeysV1.GetKeyResponse(key: .init(try service.get(caller, keyID: r.keyID), at: service.clock.nowMilliseconds))
        }
    }

    func rename(_ r: APIKeysV1.RenameKeyRequest, call: ServerCall) async throws -> APIKeysV1.RenameKeyResponse {
        try await run(APIKeysV1.Keys.Method.rename, call) { caller throws(DomainError) in
            APIKeysV1.RenameKeyResponse(key: .init(try service.rename(caller, keyID: r.keyID, name: r.name), at: service.clock.nowMilliseconds))
        }
    }

    func revoke(_ r: APIKeysV1.RevokeKeyRequest, call: ServerCall) async throws -> APIKeysV1.RevokeKeyResponse {
        try await run(APIKeysV1.Keys.Method.revoke, call) { caller throws(DomainError) in
            APIKeysV1.RevokeKeyResponse(key: .init(try service.revoke(caller, keyID: r.keyID, reason: r.reason), at: service.clock.nowMilliseconds))
        }
    }

    func revokeMany(_ r: APIKeysV1.RevokeKeysRequest, call: ServerCall) async throws -> APIKeysV1.RevokeKeysResponse {
        try await run(APIKeysV1.Keys.Method.revokeMany, call) { caller throws(DomainError) in
            let results = try service.revokeMany(caller, keyIDs: r.keyIDs, reason: r.reason)
            return APIKeysV1.RevokeKeysResponse(results: results.map(APIKeysV1.RevokeKeyResult.init))
        }
    }

    func delete(_ r: APIKeysV1.DeleteKeyRequest, call: ServerCall) async throws -> APIKeysV1.DeleteKeyResponse {
        try await run(APIKeysV1.Keys.Method.delete, call) { caller throws(DomainError) in
            try service.delete(caller, keyID: r.keyID)
            return APIKeysV1.DeleteKeyResponse()
        }
    }
}
