import APIKeysDomain

/// Which caller each method needs: the one table of role checks (R3, R4, R13, R14, R17,
/// X5, X8, X13). `APIRoutes` applies it in front of every handler; finer rules that need
/// the object (ownership, a key's status) are the domain's.
enum MethodTable {
    static let requirements: [String: Requirement] = [
        "/apikeys.v1.Directory/CreateTenant": .operator,
        "/apikeys.v1.Directory/CreateUser": .operator,
        "/apikeys.v1.Directory/RemoveUser": .operator,
        "/apikeys.v1.Directory/CreateServiceCredential": .operator,
        "/apikeys.v1.Directory/AssignRole": .tenantAdmin,       // R5
        "/apikeys.v1.Directory/RemoveRole": .tenantAdmin,
        "/apikeys.v1.Directory/SetLicense": .tenantAdmin,
        "/apikeys.v1.Directory/GetUser": .tenantAdmin,
        "/apikeys.v1.Directory/ListUsers": .tenantAdmin,
        "/apikeys.v1.Settings/Get": .tenantAdmin,               // R3
        "/apikeys.v1.Settings/Update": .tenantAdmin,            // R3, R14
        "/apikeys.v1.Keys/Generate": .licensedDeveloper,        // R4, R17
        "/apikeys.v1.Keys/List": .member,                       // X11: admins see all, others their own
        "/apikeys.v1.Keys/Get": .member,                        // owner or admin (domain)
        "/apikeys.v1.Keys/Rename": .member,                     // R19: owner (domain)
        "/apikeys.v1.Keys/Revoke": .member,                     // R10, X5: owner or admin (domain)
        "/apikeys.v1.Keys/RevokeMany": .member,                 // R11, X6
        "/apikeys.v1.Keys/Delete": .developer,                  // R4, R13: owner (domain)
        "/apikeys.v1.Verification/Verify": .service,            // X8
        "/apikeys.v1.Events/List": .tenantAdmin,                // R9
    ]

    static func requirement(for method: String) -> Requirement {
        guard let requirement = requirements[method] else {
            preconditionFailure("\(method) has no entry in MethodTable: every API method must say who may call it")
        }
        return requirement
    }
}
