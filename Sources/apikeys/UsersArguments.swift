import APIKeysWire
import ArgumentParser

/// `developer` or `admin` on the command line.
enum RoleArgument: String, ExpressibleByArgument, CaseIterable {
    case developer
    case admin

    init?(argument: String) {
        switch argument.lowercased() {
        case "developer", "dev": self = .developer
        case "admin", "tenant-admin", "tenantadmin": self = .admin
        default: return nil
        }
    }

    var role: APIKeysV1.Role { self == .developer ? .developer : .tenantAdmin }
}

/// `on` or `off` for a license.
enum Switch: String, ExpressibleByArgument, CaseIterable {
    case on
    case off

    init?(argument: String) {
        switch argument.lowercased() {
        case "on", "true", "yes": self = .on
        case "off", "false", "no": self = .off
        default: return nil
        }
    }
}
