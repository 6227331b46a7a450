import APIKeysClient
import APIKeysWire
import ArgumentParser

/// `apikeys tenants ...`: provisioning, with the operator credential.
struct TenantsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenants", abstract: "Create tenants (operator).", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a tenant, and with --admin its first tenant admin.",
            discussion: "The admin gets the TenantAdmin role and a license; they can then give themselves the Developer role (R5).")

        @Argument(help: "1 to 63 of a-z, 0-9 and '-'.") var tenantID: String
        @Option(help: "Display name.") var name: String?
        @Option(help: ArgumentHelp("Also create this user as the tenant's admin.", valueName: "user-id")) var admin: String?
        @OptionGroup(title: "Global Options") var global: GlobalOptions

        func validate() throws { _ = try global.credential(for: .operator) }

        func run() async throws {
            let (tenant, user) = try await global.withClient(.operator) { client in
                let tenant = try await client.createTenant(APIKeysV1.CreateTenantRequest(tenantID: tenantID, name: name ?? "")).tenant
                guard let admin else { return (tenant, APIKeysV1.User?.none) }
                let user = try await client.createUser(APIKeysV1.CreateUserRequest(
                    tenantID: tenantID, userID: admin, roles: [.tenantAdmin], licensed: true)).user
                return (tenant, user)
            }
            if global.json {
                Output.json(.object([
                    "tenant": .object(["id": .string(tenant?.id ?? tenantID), "name": .string(tenant?.name ?? name ?? ""),
                                       "createdAt": .time(tenant?.createdAtMs ?? 0)]),
                    "admin": user?.json ?? .null,
                ]))
            } else {
                Output.line("Created tenant \(tenant?.id ?? tenantID)\(tenant.map { $0.name.isEmpty ? "" : " (\($0.name))" } ?? "").")
                if let user { Output.line("Created admin \(user.userID) with the TenantAdmin role and a license.") }
            }
        }
    }
}
