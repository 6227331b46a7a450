import APIKeysDomain
import APIKeysWire

/// Which domain ``Operation`` each API method performs. Who may call it is the operation's
/// ``Operation/requirement``, judged by ``AccessPolicy`` inside the domain: the server holds
/// no role rules of its own (R3, R4, R13, R17, X5, X8, X13, X17, X18). Keyed by the
/// generated descriptors: every method of `APIKeysV1`'s services but Health and Conformance,
/// which need no credential (MethodTableTests holds it to exactly that, issue 12).
enum MethodTable {
    static let operations: [RPCMethod: Operation] = [
        APIKeysV1.Directory.Method.createTenant.rpc: .createTenant,
        APIKeysV1.Directory.Method.createUser.rpc: .createUser,
        APIKeysV1.Directory.Method.removeUser.rpc: .removeUser,
        APIKeysV1.Directory.Method.createServiceCredential.rpc: .createServiceCredential,
        APIKeysV1.Directory.Method.createOperatorCredential.rpc: .createOperatorCredential,
        APIKeysV1.Directory.Method.listCredentials.rpc: .listCredentials,
        APIKeysV1.Directory.Method.rotateCredential.rpc: .rotateCredential,
        APIKeysV1.Directory.Method.revokeCredential.rpc: .revokeCredential,
        APIKeysV1.Directory.Method.assignRole.rpc: .assignRole,
        APIKeysV1.Directory.Method.removeRole.rpc: .removeRole,
        APIKeysV1.Directory.Method.setLicense.rpc: .setLicense,
        APIKeysV1.Directory.Method.getUser.rpc: .getUser,
        APIKeysV1.Directory.Method.listUsers.rpc: .listUsers,
        APIKeysV1.Settings.Method.get.rpc: .getSettings,
        APIKeysV1.Settings.Method.update.rpc: .updateSettings,
        APIKeysV1.Keys.Method.generate.rpc: .generateKey,
        APIKeysV1.Keys.Method.list.rpc: .listKeys,
        APIKeysV1.Keys.Method.get.rpc: .getKey,
        APIKeysV1.Keys.Method.rename.rpc: .renameKey,
        APIKeysV1.Keys.Method.revoke.rpc: .revokeKey,
        APIKeysV1.Keys.Method.revokeMany.rpc: .revokeKeys,
        APIKeysV1.Keys.Method.delete.rpc: .deleteKey,
        APIKeysV1.Verification.Method.verify.rpc: .verify,
        APIKeysV1.Events.Method.list.rpc: .listEvents,
    ]

    static func operation(for method: RPCMethod) -> Operation {
        guard let operation = operations[method] else {
            preconditionFailure("\(method) has no entry in MethodTable: every API method must say which operation it is")
        }
        return operation
    }
}
