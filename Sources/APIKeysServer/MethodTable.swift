import APIKeysDomain

/// Which domain ``Operation`` each API method performs. Who may call it is the operation's
/// ``Operation/requirement``, judged by ``AccessPolicy`` inside the domain: the server holds
/// no role rules of its own (R3, R4, R13, R17, X5, X8, X13, X17, X18).
enum MethodTable {
    static let operations: [String: Operation] = [
        "/apikeys.v1.Directory/CreateTenant": .createTenant,
        "/apikeys.v1.Directory/CreateUser": .createUser,
        "/apikeys.v1.Directory/RemoveUser": .removeUser,
        "/apikeys.v1.Directory/CreateServiceCredential": .createServiceCredential,
        "/apikeys.v1.Directory/CreateOperatorCredential": .createOperatorCredential,
        "/apikeys.v1.Directory/ListCredentials": .listCredentials,
        "/apikeys.v1.Directory/RotateCredential": .rotateCredential,
        "/apikeys.v1.Directory/RevokeCredential": .revokeCredential,
        "/apikeys.v1.Directory/AssignRole": .assignRole,
        "/apikeys.v1.Directory/RemoveRole": .removeRole,
        "/apikeys.v1.Directory/SetLicense": .setLicense,
        "/apikeys.v1.Directory/GetUser": .getUser,
        "/apikeys.v1.Directory/ListUsers": .listUsers,
        "/apikeys.v1.Settings/Get": .getSettings,
        "/apikeys.v1.Settings/Update": .updateSettings,
        "/apikeys.v1.Keys/Generate": .generateKey,
        "/apikeys.v1.Keys/List": .listKeys,
        "/apikeys.v1.Keys/Get": .getKey,
        "/apikeys.v1.Keys/Rename": .renameKey,
        "/apikeys.v1.Keys/Revoke": .revokeKey,
        "/apikeys.v1.Keys/RevokeMany": .revokeKeys,
        "/apikeys.v1.Keys/Delete": .deleteKey,
        "/apikeys.v1.Verification/Verify": .verify,
        "/apikeys.v1.Events/List": .listEvents,
    ]

    static func operation(for method: String) -> Operation {
        guard let operation = operations[method] else {
            preconditionFailure("\(method) has no entry in MethodTable: every API method must say which operation it is")
        }
        return operation
    }
}
