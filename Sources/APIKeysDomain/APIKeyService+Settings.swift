/// The tenant's API-key settings (R2, R3, R14, R15, R16, X2, X4, X9).
extension APIKeyService {
    /// R3: a tenant admin reads the settings.
    public func getSettings(_ caller: Caller) throws(DomainError) -> TenantSettings {
        let admin = try authorize(caller, .getSettings)!
        return try reading(caller, operation: "settings.get") {
            guard let tenant = try store.tenant(id: admin.tenantID) else {
                throw DomainError.notFound("tenant \"\(admin.tenantID)\" does not exist", reason: "tenant_not_found")
            }
            return tenant.settings
        }
    }

    /// R3, R14: a tenant admin changes the fields that are set, within the X2 bounds.
    /// Expiry and key-count limits apply to new keys only (R15, R16); enabling or disabling
    /// takes effect for the very next verification (X4). Records `settings.changed`.
    public func updateSettings(_ caller: Caller, _ update: SettingsUpdate) throws(DomainError) -> TenantSettings {
        let admin = try authorize(caller, .updateSettings)!
        return try perform(caller, operation: EventAction.settingsChanged) { tx, changes in
            _ = try check(caller, .tenantAdminChange, in: tx)
            if let v = update.maxExpirySeconds, !TenantSettings.maxExpiryRange.contains(v) {
                throw DomainError.invalidArgument("maximum expiry \(v) s is out of range: give 3600 (1 hour) to 31536000 (365 days) seconds", rule: "X2", reason: "max_expiry_out_of_range")
            }
            if let v = update.maxKeysPerUser, !TenantSettings.maxKeysRange.contains(v) {
                throw DomainError.invalidArgument("maximum keys per user \(v) is out of range: give 0 to 1000", rule: "X2", reason: "max_keys_out_of_range")
            }
            if let v = update.excessiveUsePerMinute, !TenantSettings.excessiveUseRange.contains(v) {
                throw DomainError.invalidArgument("excessive-use threshold \(v) per minute is out of range: give 1 to 10000000", rule: "X9", reason: "excessive_use_out_of_range")
            }
            guard let tenant = try tx.tenant(id: admin.tenantID) else {
                throw DomainError.notFound("tenant \"\(admin.tenantID)\" does not exist", reason: "tenant_not_found")
            }
            let old = tenant.settings
            var new = old
            var details: [String: String] = [:]
            func note<V: Equatable>(_ name: String, _ value: V?, _ path: WritableKeyPath<TenantSettings, V>) {
                guard let value, value != old[keyPath: path] else { return }
                details[name] = "\(old[keyPath: path]) -> \(value)"
                new[keyPath: path] = value
            }
            note("api_keys_enabled", update.apiKeysEnabled, \.apiKeysEnabled)
            note("max_expiry_seconds", update.maxExpirySeconds, \.maxExpirySeconds)
            note("max_keys_per_user", update.maxKeysPerUser, \.maxKeysPerUser)
            note("excessive_use_per_minute", update.excessiveUsePerMinute, \.excessiveUsePerMinute)
            guard !details.isEmpty else { return old }
            let time = now
            new.updatedAt = time
            try tx.updateSettings(tenantID: admin.tenantID, new)
            details["rule"] = update.apiKeysEnabled != nil && update.apiKeysEnabled != old.apiKeysEnabled ? "R14" : "R3"
            try tx.insertEvent(event(caller, tenantID: admin.tenantID, action: EventAction.settingsChanged, details: details, at: time))
            changes.append(.tenant(id: admin.tenantID, settings: new))
            return new
        }
    }
}
