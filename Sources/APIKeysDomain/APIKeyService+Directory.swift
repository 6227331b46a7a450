import Foundation

/// The directory: tenants, users, roles, licenses and service credentials (R5, X13, X14).
extension APIKeyService {
    /// Operator: creates a tenant with the X2 default settings (API keys disabled, R2).
    public func createTenant(_ caller: Caller, id: String, name: String) throws(DomainError) -> Tenant {
        try authorize(caller, .createTenant)
        try Validation.tenantID(id)
        let name = try Validation.tenantName(name)
        return try perform(caller, operation: EventAction.tenantCreated) { tx, changes in
            guard try tx.tenant(id: id) == nil else {
                throw DomainError(.alreadyExists, "tenant \(Validation.quoted(id)) already exists", reason: "tenant_exists")
            }
            let time = now
            let tenant = Tenant(id: id, name: name, createdAt: time, settings: .defaults(at: time))
            try tx.insertTenant(tenant)
            try tx.insertEvent(event(caller, tenantID: id, action: EventAction.tenantCreated, details: ["name": name], at: time))
            changes.append(.tenant(id: id, settings: tenant.settings))
            return tenant
        }
    }

    /// Operator: adds a user to a tenant's directory.
    public func createUser(
        _ caller: Caller, tenantID: String, userID: String, displayName: String,
        roles: Set<Role> = [], licensed: Bool = false
    ) throws(DomainError) -> User {
        try authorize(caller, .createUser)
        try Validation.tenantID(tenantID)
        try Validation.userID(userID)
        try Validation.displayName(displayName)
        return try perform(caller, operation: EventAction.userCreated) { tx, changes in
            guard try tx.tenant(id: tenantID) != nil else {
                throw DomainError.notFound("tenant \(Validation.quoted(tenantID)) does not exist", rule: "", reason: "tenant_not_found")
            }
            guard try tx.user(tenantID: tenantID, userID: userID) == nil else {
                throw DomainError(.alreadyExists, "user \(Validation.quoted(userID)) already exists in tenant \(Validation.quoted(tenantID))", reason: "user_exists")
            }
            let time = now
            let user = User(
                tenantID: tenantID, userID: userID, displayName: displayName, roles: roles, licensed: licensed, createdAt: time)
            try tx.insertUser(user)
            try tx.insertEvent(event(caller, tenantID: tenantID, action: EventAction.userCreated, details: [
                "user": userID, "roles": roles.storedNames, "licensed": String(licensed),
            ], at: time))
            changes.append(.user(user))
            return user
        }
    }

    /// Operator, X14: removes a user; every key they own is revoked at once, each with a
    /// `key.revoked` event naming the reason. Returns how many keys were revoked.
    public func removeUser(_ caller: Caller, tenantID: String, userID: String) throws(DomainError) -> Int {
        try authorize(caller, .removeUser)
        // Checked before anything is recorded in that tenant's name.
        try Validation.tenantID(tenantID)
        return try perform(caller, operation: EventAction.userRemoved, tenantID: tenantID) { tx, changes in
            try Validation.userID(userID)
            guard try tx.user(tenantID: tenantID, userID: userID) != nil else {
                throw DomainError.notFound("user \(Validation.quoted(userID)) does not exist in tenant \(Validation.quoted(tenantID))", reason: "user_not_found")
            }
            let time = now
            var revoked = 0
            for var key in try tx.keys(tenantID: tenantID, ownerID: userID) where key.revokedAt == nil {
                key.revokedAt = time
                key.updatedAt = time
                key.revokeReason = "owner removed from the directory"
                try tx.updateKey(key)
                try tx.insertEvent(event(caller, tenantID: tenantID, action: EventAction.keyRevoked, keyID: key.id, details: [
                    "reason": "user_removed", "rule": "X14", "owner": userID,
                ], at: time))
                changes.append(.key(key))
                revoked += 1
            }
            try tx.deleteUser(tenantID: tenantID, userID: userID)
            try tx.insertEvent(event(caller, tenantID: tenantID, action: EventAction.userRemoved, details: [
                "user": userID, "keys_revoked": String(revoked), "rule": "X14",
            ], at: time))
            changes.append(.userRemoved(tenantID: tenantID, userID: userID))
            return revoked
        }
    }

    /// R5: a tenant admin grants a role, also to themselves.
    public func assignRole(_ caller: Caller, userID: String, role: Role) throws(DomainError) -> User {
        try changeUser(caller, .assignRole, userID: userID) { user in
            guard !user.roles.contains(role) else { return nil }
            user.roles.insert(role)
            return ["role": role.rawValue, "rule": "R5"]
        }
    }

    /// A tenant admin takes a role away; it stops working at once (X13). The last
    /// TenantAdmin of a tenant cannot lose the role, so the tenant stays manageable.
    public func removeRole(_ caller: Caller, userID: String, role: Role) throws(DomainError) -> User {
        try changeUser(caller, .removeRole, userID: userID) { user in
            guard user.roles.contains(role) else { return nil }
            user.roles.remove(role)
            return ["role": role.rawValue, "rule": role == .developer ? "R4" : "R3"]
        }
    }

    /// R17: a tenant admin gives or takes a license, also their own.
    public func setLicense(_ caller: Caller, userID: String, licensed: Bool) throws(DomainError) -> User {
        try changeUser(caller, .setLicense, userID: userID) { user in
            guard user.licensed != licensed else { return nil }
            user.licensed = licensed
            return ["licensed": String(licensed), "rule": "R17"]
        }
    }

    /// A tenant admin reads any user of the tenant; anyone reads themselves.
    public func getUser(_ caller: Caller, userID: String) throws(DomainError) -> User {
        let me = try authorize(caller, .getUser)!
        return try reading(caller, operation: "user.get") {
            try Validation.userID(userID)
            if let refusal = AccessPolicy.decide(.userReader(userID: userID), caller: caller, user: me, apiKeysEnabled: nil) {
                throw refusal
            }
            guard let user = try store.user(tenantID: me.tenantID, userID: userID) else {
                throw DomainError.notFound("user \(Validation.quoted(userID)) does not exist in this tenant", reason: "user_not_found")
            }
            return user
        }
    }

    /// A tenant admin lists the tenant's users, ordered by user ID.
    public func listUsers(_ caller: Caller) throws(DomainError) -> [User] {
        let me = try authorize(caller, .listUsers)!
        return try reading(caller, operation: "user.list") { try store.users(tenantID: me.tenantID) }
    }

    /// A tenant admin changes a user of their tenant; `change` returns the event's details,
    /// or nil when nothing changes (no event then).
    private func changeUser(
        _ caller: Caller, _ operation: Operation, userID: String, _ change: (inout User) -> [String: String]?
    ) throws(DomainError) -> User {
        let admin = try authorize(caller, operation)!
        let action = operation.refusalAction
        return try perform(caller, operation: action) { tx, changes in
            // The admin's role is read again by this transaction (two admins demoting each other).
            _ = try check(caller, operation.requirement, in: tx)
            try Validation.userID(userID)
            guard var user = try tx.user(tenantID: admin.tenantID, userID: userID) else {
                throw DomainError.notFound("user \(Validation.quoted(userID)) does not exist in this tenant", reason: "user_not_found")
            }
            let wasAdmin = user.isTenantAdmin
            // X15: a stored spelling that is not NFC can never sign in, so it does not count
            // as another admin who could keep the tenant manageable.
            guard var details = change(&user) else { return user }
            if wasAdmin, !user.isTenantAdmin,
               try !tx.users(tenantID: admin.tenantID).contains(where: { !$0.userID.isByteEqual(to: userID) && $0.isTenantAdmin && Validation.isNFC($0.userID) }) {
                throw DomainError(.failedPrecondition, "user \(Validation.quoted(userID)) is the tenant's last TenantAdmin; assign the role to someone else first", rule: "R3", reason: "last_tenant_admin")
            }
            try tx.updateUser(user)
            details["user"] = userID
            try tx.insertEvent(event(caller, tenantID: admin.tenantID, action: action, details: details, at: now))
            changes.append(.user(user))
            return user
        }
    }
}
