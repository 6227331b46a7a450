import APIKeysDomain
import APIKeysWire

/// `apikeys.v1.Settings`: a tenant's settings.
extension APIRoutes: APIKeysV1.SettingsHandler {
    func get(_ request: APIKeysV1.GetSettingsRequest, call: ServerCall) async throws -> APIKeysV1.GetSettingsResponse {
        try await run(APIKeysV1.Settings.Method.get, call) { caller throws(DomainError) in
            APIKeysV1.GetSettingsResponse(settings: .init(try service.getSettings(caller)))
        }
    }

    func update(_ r: APIKeysV1.UpdateSettingsRequest, call: ServerCall) async throws -> APIKeysV1.UpdateSettingsResponse {
        try await run(APIKeysV1.Settings.Method.update, call) { caller throws(DomainError) in
            let update = SettingsUpdate(
                apiKeysEnabled: r.apiKeysEnabled, maxExpirySeconds: r.maxExpirySeconds,
                maxKeysPerUser: r.maxKeysPerUser, excessiveUsePerMinute: r.excessiveUsePerMinute)
            return APIKeysV1.UpdateSettingsResponse(settings: .init(try service.updateSettings(caller, update)))
        }
    }
}
