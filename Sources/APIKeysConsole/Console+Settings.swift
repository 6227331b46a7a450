import APIKeysClient
import APIKeysWire
import Hummingbird
import Logging

extension Console {
    /// Console › Settings: R14, R15, R16 and the X9 threshold.
    func settingsPage(_ session: Session, _ context: ConsoleRequestContext,
                      error: String? = nil) async throws -> Response {
        let client = try await backend.client(for: session)
        let settings = try await client.getSettings().settings ?? APIKeysV1.TenantSettings()
        let inHours = settings.maxExpirySeconds % 86_400 != 0
        let data: [String: Any] = [
            "enabled": settings.apiKeysEnabled,
            "maxExpiryValue": "\(settings.maxExpirySeconds / (inHours ? 3600 : 86_400))",
            "expiryHours": inHours,
            "maxKeys": "\(settings.maxKeysPerUser)",
            "excessiveUse": "\(settings.excessiveUsePerMinute)",
            "updated": Display.time(settings.updatedAtMs),
        ]
        return page("settings", data, title: "Settings", nav: "settings", context: context,
                     status: error == nil ? .ok : .badRequest, error: error, isAdmin: true)
    }

    /// Sends only the fields that changed, so each change is one clear event (X10).
    func updateSettings(_ session: Session, _ form: FormData, _ context: ConsoleRequestContext) async throws -> Response {
        let client = try await backend.client(for: session)
        let current = try await client.getSettings().settings ?? APIKeysV1.TenantSettings()
        let enabled = form["enabled"] == "on"
        let unit: UInt64 = form["max_expiry_unit"] == "hours" ? 3600 : 86_400
        guard let expiryCount = UInt64(form.text("max_expiry")),
              let maxKeys = UInt32(form.text("max_keys")),
              let excessive = UInt32(form.text("excessive_use")) else {
            return try await settingsPage(session, context, error: "Give whole numbers for the expiry, the keys per user and the threshold.")
        }
        let (maxExpiry, overflow) = expiryCount.multipliedReportingOverflow(by: unit)
        var request = APIKeysV1.UpdateSettingsRequest()
        var changes: [String] = []
        if enabled != current.apiKeysEnabled {
            request.apiKeysEnabled = enabled
            changes.append(enabled ? "API keys enabled" : "API keys disabled")
        }
        if overflow || maxExpiry != current.maxExpirySeconds {
            request.maxExpirySeconds = overflow ? .max : maxExpiry
            changes.append("maximum expiry \(Display.duration(seconds: maxExpiry))")
        }
        if maxKeys != current.maxKeysPerUser {
            request.maxKeysPerUser = maxKeys
            changes.append("at most \(maxKeys) keys per user")
        }
        if excessive != current.excessiveUsePerMinute {
            request.excessiveUsePerMinute = excessive
            changes.append("excessive use above \(excessive) verifications a minute")
        }
        // Switching keys off stops every key of the tenant at once (R14, X4): asked first.
        if request.apiKeysEnabled == false, form["confirmed"] != "yes" {
            let carried: [[String: Any]] = ["max_expiry", "max_expiry_unit", "max_keys", "excessive_use"].map {
                ["name": $0, "value": form.text($0)]
            }
            return page("settings-confirm", ["fields": carried, "changes": changes.joined(separator: "; ")],
                        title: "Confirm settings", nav: "settings", context: context, isAdmin: true)
        }
        guard !changes.isEmpty else {
            sessions.setNotice("Nothing changed.", for: session.id)
            return redirect("/console/settings")
        }
        do {
            _ = try await client.updateSettings(request)
        } catch let error as RPCError {
            return try await settingsPage(session, context, error: RefusalText.describe(error))
        }
        sessions.setNotice("Settings saved: \(changes.joined(separator: "; ")).", for: session.id)
        return redirect("/console/settings")
    }
}
