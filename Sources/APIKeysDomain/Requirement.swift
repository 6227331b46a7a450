/// What a method needs of its caller; the server keeps the table method -> Requirement
/// and calls ``APIKeyService/authorize(_:_:operation:)`` in one place in front of the handlers.
public enum Requirement: Sendable, Hashable, CaseIterable {
    /// Any authenticated caller.
    case none
    /// The operator credential (Directory: CreateTenant, CreateUser, RemoveUser, CreateServiceCredential).
    case `operator`
    /// A service credential, acting for a user or not (Verify, X8).
    case service
    /// Any user of a tenant (Keys: List, Get, Rename, Revoke, RevokeMany, Generate, Delete; the
    /// finer rules R4, R13, R17, R19, X5 are checked by the operation itself, each with its own message).
    case member
    /// R3: a user with the TenantAdmin role (Settings, Events, role and license changes, ListUsers).
    case tenantAdmin
    /// R4: a user with the Developer role.
    case developer
    /// R17 without the tenant setting: Developer role and a license.
    case licensedDeveloper
}
