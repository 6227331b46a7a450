import APIKeysWire

/// apikeysd's refusals in plain words for the person at the page.
///
/// The reasons a generate is refused (R17, R4, R16, X2) get sentences of their own that
/// say what to do; any other refusal shows apikeysd's message and the rule it cites.
enum RefusalText {
    static func describe(_ error: any Error) -> String {
        // The client reports an apikeysd it cannot reach (or that is restarting) as UNAVAILABLE.
        guard let rpc = error as? RPCError, rpc.code != .unavailable else {
            return "apikeysd cannot be reached right now, so nothing was changed. Try again in a moment."
        }
        let details = rpc.errorDetails
        switch details?.reason ?? "" {
        case "no_license":
            return "You cannot generate keys: you have no license. Ask a tenant admin to give you one (R17)."
        case "api_keys_disabled":
            return "You cannot generate keys: API keys are disabled in this tenant. A tenant admin must turn on “Enable API keys” in Settings (R17)."
        case "not_developer":
            return "You cannot generate or delete keys: you do not have the Developer role. Ask a tenant admin to grant it (R4, R17)."
        case "key_limit":
            return "You already have as many Active keys as this tenant allows per user (R16). Revoke or delete one of them first. apikeysd said: \(rpc.message)"
        case "expiry_beyond_maximum":
            return "That expiry is later than this tenant allows (X2). Pick a shorter one."
        case "not_tenant_admin":
            return "This page is for tenant admins (R3). Your own keys are under My API keys."
        case "unknown_user":
            return "Your user no longer exists in this tenant's directory; sign in again."
        default:
            let rule = details.map { $0.rule.isEmpty ? "" : " (\($0.rule))" } ?? ""
            return "\(rpc.message)\(rule)"
        }
    }
}
