import APIKeysDomain
import Testing

/// SIGHUP (issue 11): the configured credentials are replaced all at once, or not at all.
@Suite("Configured credentials reload")
struct ConfiguredCredentialsReloadTests {
    typealias Entry = APIKeyService.ConfiguredServiceCredential

    @Test("a reload reports added, removed and changed names; old secrets stop, new ones work, at once")
    func replaces() throws {
        let f = try Fixture()
        let old = String(repeating: "o", count: 40), new = String(repeating: "n", count: 40)
        try f.service.addConfiguredServiceCredential(name: "gateway", secret: old, scope: .verify)
        try f.service.addConfiguredServiceCredential(name: "billing", secret: old + "b", scope: .act)
        let version = f.service.credentialsVersion
        let change = try f.service.replaceConfiguredCredentials(services: [
            Entry(name: "gateway", secret: new, scope: .verify, tenants: []),
            Entry(name: "auditor", secret: new + "a", scope: .verify, tenants: []),
        ], operatorSecret: nil)
        #expect(change == .init(added: ["auditor"], removed: ["billing"], changed: ["gateway"]))
        // The service caller cache drops on this.
        #expect(f.service.credentialsVersion != version)
        expectRefusal(.unauthenticated, "unknown_credential") {
            _ = try f.service.resolveCaller(authorization: "Service \(old)", tenantID: nil, userID: nil)
        }
        expectRefusal(.unauthenticated, "unknown_credential") {
            _ = try f.service.resolveCaller(authorization: "Service \(old)b", tenantID: nil, userID: nil)
        }
        let caller = try f.service.resolveCaller(authorization: "Service \(new)", tenantID: nil, userID: nil)
        #expect(caller == .service(ServiceIdentity(name: "gateway", credentialID: "configured:gateway", scope: .verify)))
        // The same set again: no change.
        let again = try f.service.replaceConfiguredCredentials(services: [
            Entry(name: "gateway", secret: new, scope: .verify, tenants: []),
            Entry(name: "auditor", secret: new + "a", scope: .verify, tenants: []),
        ], operatorSecret: nil)
        #expect(again.isEmpty)
    }

    @Test("a bad set (weak secret, duplicate name) changes nothing")
    func allOrNothing() throws {
        let f = try Fixture()
        let secret = String(repeating: "k", count: 40)
        try f.service.addConfiguredServiceCredential(name: "gateway", secret: secret, scope: .verify)
        expectRefusal(.invalidArgument, "weak_credential", rule: "X13") {
            try f.service.replaceConfiguredCredentials(services: [
                Entry(name: "other", secret: String(repeating: "x", count: 40), scope: .verify, tenants: []),
                Entry(name: "weak", secret: "short", scope: .verify, tenants: []),
            ], operatorSecret: nil)
        }
        expectRefusal(.invalidArgument, "duplicate_name", rule: "X18") {
            try f.service.replaceConfiguredCredentials(services: [
                Entry(name: "twice", secret: String(repeating: "x", count: 40), scope: .verify, tenants: []),
                Entry(name: "twice", secret: String(repeating: "y", count: 40), scope: .verify, tenants: []),
            ], operatorSecret: nil)
        }
        // Still the credential from before.
        _ = try f.service.resolveCaller(authorization: "Service \(secret)", tenantID: nil, userID: nil)
    }
}
