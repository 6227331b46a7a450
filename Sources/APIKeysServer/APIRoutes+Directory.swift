import APIKeysDomain
import APIKeysWire

/// `apikeys.v1.Directory`: tenants, users, roles, licences and service credentials.
extension APIRoutes: APIKeysV1.DirectoryHandler {
    func createTenant(_ r: APIKeysV1.CreateTenantRequest, call: ServerCall) async throws -> APIKeysV1.CreateTenantResponse {
        try await run(APIKeysV1.Directory.Method.createTenant, call) { caller throws(DomainError) in
            APIKeysV1.CreateTenantResponse(tenant: .init(try service.createTenant(caller, id: r.tenantID, name: r.name)))
        }
    }

    func createUser(_ r: APIKeysV1.CreateUserRequest, call: ServerCall) async throws -> APIKeysV1.CreateUserResponse {
        try await run(APIKeysV1.Directory.Method.createUser, call) { caller throws(DomainError) in
            let user = try service.createUser(
                caller, tenantID: r.tenantID, userID: r.userID, displayName: r.displayName,
                roles: Set(try r.roles.map(Role.init)), licensed: r.licensed)
            return APIKeysV1.CreateUserResponse(user: .init(user))
        }
    }

    func removeUser(_ r: APIKeysV1.RemoveUserRequest, call: ServerCall) async throws -> APIKeysV1.RemoveUserResponse {
        try await run(APIKeysV1.Directory.Method.removeUser, call) { caller throws(DomainError) in
            APIKeysV1.RemoveUserResponse(keysRevoked: UInt32(try service.removeUser(caller, tenantID: r.tenantID, userID: r.userID)))
        }
    }

    func createServiceCredential(_ r: APIKeysV1.CreateServiceCredentialRequest, call: ServerCall) async throws -> APIKeysV1.CreateServiceCredentialResponse {
        try await run(APIKeysV1.Directory.Method.createServiceCredential, call) { caller throws(DomainError) in
            let created = try service.createServiceCredential(caller, name: r.name, scope: .init(r.scope), tenants: r.tenants)
            return APIKeysV1.CreateServiceCredentialResponse(
                name: created.credential.name, secret: created.secret, credential: .init(created.credential))
        }
    }

    func createOperatorCredential(_ r: APIKeysV1.CreateOperatorCredentialRequest, call: ServerCall) async throws -> APIKeysV1.CreateOperatorCredentialResponse {
        try await run(APIKeysV1.Directory.Method.createOperatorCredential, call) { caller throws(DomainError) in
            let created = try service.createOperatorCredential(caller, name: r.name.isEmpty ? "operator" : r.name)
            return APIKeysV1.CreateOperatorCredentialResponse(secret: created.secret, credential: .init(created.credential))
        }
    }

    func listCredentials(_ request: APIKeysV1.ListCredentialsRequest, call: ServerCall) async throws -> APIKeysV1.ListCredentialsResponse {
        try await run(APIKeysV1.Directory.Method.listCredentials, call) { caller throws(DomainError) in
            APIKeysV1.ListCredentialsResponse(credentials: try service.listCredentials(caller).map(APIKeysV1.CredentialInfo.init))
        }
    }

    func rotateCredential(_ r: APIKeysV1.RotateCredentialRequest, call: ServerCall) async throws -> APIKeysV1.RotateCredentialResponse {
        try await run(APIKeysV1.Directory.Method.rotateCredential, call) { caller throws(DomainError) in
            let rotated = try service.rotateCredential(caller, id: r.credentialID)
            return APIKeysV1.RotateCredentialResponse(
                secret: rotated.issued.secret, credential: .init(rotated.issued.credential), replacesID: rotated.replaced.id)
        }
    }

    func revokeCredential(_ r: APIKeysV1.RevokeCredentialRequest, call: ServerCall) async throws -> APIKeysV1.RevokeCredentialResponse {
        try await run(APIKeysV1.Directory.Method.revokeCredential, call) { caller throws(DomainError) in
            APIKeysV1.RevokeCredentialResponse(credential: .init(try service.revokeCredential(caller, id: r.credentialID)))
        }
    }

    func assignRole(_ r: APIKeysV1.AssignRoleRequest, call: ServerCall) async throws -> APIKeysV1.UserResponse {
        try await run(APIKeysV1.Directory.Method.assignRole, call) { caller throws(DomainError) in
            APIKeysV1.UserResponse(user: .init(try service.assignRole(caller, userID: r.userID, role: try Role(r.role))))
        }
    }

    func removeRole(_ r: APIKeysV1.RemoveRoleRequest, call: ServerCall) async throws -> APIKeysV1.UserResponse {
        try await run(APIKeysV1.Directory.Method.removeRole, call) { caller throws(DomainError) in
            APIKeysV1.UserResponse(user: .init(try service.removeRole(caller, userID: r.userID, role: try Role(r.role))))
        }
    }

    func setLicense(_ r: APIKeysV1.SetLicenseRequest, call: ServerCall) async throws -> APIKeysV1.UserResponse {
        try await run(APIKeysV1.Directory.Method.setLicense, call) { caller throws(DomainError) in
            APIKeysV1.UserResponse(user: .init(try service.setLicense(caller, userID: r.userID, licensed: r.licensed)))
        }
    }

    func getUser(_ r: APIKeysV1.GetUserRequest, call: ServerCall) async throws -> APIKeysV1.UserResponse {
        try await run(APIKeysV1.Directory.Method.getUser, call) { caller throws(DomainError) in
            APIKeysV1.UserResponse(user: .init(try service.getUser(caller, userID: r.userID)))
        }
    }

    func listUsers(_ request: APIKeysV1.ListUsersRequest, call: ServerCall) async throws -> APIKeysV1.ListUsersResponse {
        try await run(APIKeysV1.Directory.Method.listUsers, call) { caller throws(DomainError) in
            APIKeysV1.ListUsersResponse(users: try service.listUsers(caller).map(APIKeysV1.User.init))
        }
    }
}
