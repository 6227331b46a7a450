import APIKeysClient
import APIKeysWire
import ArgumentParser

/// `apikeys users ...`: the tenant's directory. Create and remove are the operator's
/// (what an identity provider would do); roles and licenses are the tenant admin's.
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Manage users, their roles and licenses.",
        subcommands: [Create.self, Remove.self, List.self, Get.self, AssignRole.self, RemoveRole.self, License.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a user in the tenant given by --tenant (operator).")

        @Argument(help: "1 to 128 printable characters without spaces.") var userID: String
        @Option(help: "Display name.") var name: String?
        @Flag(help: "Give the Developer role.") var developer = false
        @Flag(help: "Give the TenantAdmin role.") var admin = false
        @Flag(help: "Give a license.") var licensed = false
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws {
            _ = try global.requiredTenant()
            _ = try global.credential(for: .operator)
        }

        func run() async throws {
            let tenant = try global.requiredTenant()
            let roles: [APIKeysV1.Role] = (developer ? [.developer] : []) + (admin ? [.tenantAdmin] : [])
            let request = APIKeysV1.CreateUserRequest(tenantID: tenant, userID: userID, displayName: name ?? "",
                                            roles: roles, licensed: licensed)
            let user = try await global.withClient(.operator) { try await $0.createUser(request).user }
            UsersCommand.show(user ?? APIKeysV1.User(tenantID: tenant, userID: userID), json: global.json, saying: "Created user")
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a user from the tenant given by --tenant (operator); their keys are revoked at once (X14).")

        @Argument var userID: String
        @Flag(name: .shortAndLong, help: "Do not ask for confirmation (needed when stdin is not a terminal).") var yes = false
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws {
            _ = try global.requiredTenant()
            _ = try global.credential(for: .operator)
        }

        func run() async throws {
            let tenant = try global.requiredTenant()
            try Confirmation.confirm("remove user \(userID) from \(tenant) and revoke their keys", yes: yes)
            let reply = try await global.withClient(.operator) {
                try await $0.removeUser(APIKeysV1.RemoveUserRequest(tenantID: tenant, userID: userID))
            }
            if global.json {
                Output.json(.object(["tenantId": .string(tenant), "userId": .string(userID),
                                     "keysRevoked": .uint(UInt64(reply.keysRevoked))]))
            } else {
                Output.line("Removed user \(userID) from \(tenant); \(reply.keysRevoked) key(s) revoked.")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the tenant's users (tenant admin).")

        @Flag(help: "Every user; the server always sends them all in one reply, so this changes nothing.") var all = false
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws { _ = try global.credential(for: .user) }

        func run() async throws {
            let users = try await global.withClient(.user) { try await $0.listUsers().users }
            if global.json {
                Output.json(.object(["users": .array(users.map(\.json))]))
                return
            }
            var table = Table("USER", "NAME", "ROLES", "LICENSED", "CREATED")
            for user in users {
                table.append(user.userID, user.displayName.isEmpty ? "-" : user.displayName,
                             user.roleLabels.isEmpty ? "-" : user.roleLabels.joined(separator: ","),
                             user.licensed ? "yes" : "no", Timestamp.minutes(user.createdAtMs))
            }
            Output.line(table.rendered())
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a user (tenant admin).")

        @Argument var userID: String
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws { _ = try global.credential(for: .user) }

        func run() async throws {
            let user = try await global.withClient(.user) { try await $0.getUser(APIKeysV1.GetUserRequest(userID: userID)).user }
            UsersCommand.show(user ?? APIKeysV1.User(userID: userID), json: global.json, saying: nil)
        }
    }

    struct AssignRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give a user a role (tenant admin; also to yourself, R5).")

        @Argument var userID: String
        @Argument(help: "developer or admin.") var role: RoleArgument
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws { _ = try global.credential(for: .user) }

        func run() async throws {
            let user = try await global.withClient(.user) {
                try await $0.assignRole(APIKeysV1.AssignRoleRequest(userID: userID, role: role.role)).user
            }
            UsersCommand.show(user ?? APIKeysV1.User(userID: userID), json: global.json, saying: "Updated user")
        }
    }

    struct RemoveRole: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a role from a user (tenant admin); their existing keys keep working (X14).")

        @Argument var userID: String
        @Argument(help: "developer or admin.") var role: RoleArgument
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws { _ = try global.credential(for: .user) }

        func run() async throws {
            let user = try await global.withClient(.user) {
                try await $0.removeRole(APIKeysV1.RemoveRoleRequest(userID: userID, role: role.role)).user
            }
            UsersCommand.show(user ?? APIKeysV1.User(userID: userID), json: global.json, saying: "Updated user")
        }
    }

    struct License: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give or take a user's license (tenant admin).")

        @Argument var userID: String
        @Argument(help: "on or off.") var state: Switch
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws { _ = try global.credential(for: .user) }

        func run() async throws {
            let user = try await global.withClient(.user) {
                try await $0.setLicense(APIKeysV1.SetLicenseRequest(userID: userID, licensed: state == .on)).user
            }
            UsersCommand.show(user ?? APIKeysV1.User(userID: userID), json: global.json, saying: "Updated user")
        }
    }

    /// One user, as JSON or as labelled lines after an optional "Created user bob." line.
    static func show(_ user: APIKeysV1.User, json: Bool, saying verb: String?) {
        if json {
            Output.json(user.json)
            return
        }
        if let verb { Output.line("\(verb) \(user.userID).") }
        Output.line(user.details)
    }
}
