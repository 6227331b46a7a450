import APIKeysClient
import APIKeysWire
import ArgumentParser

/// `apikeys health`: is the server up, and which version is it.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health", abstract: "Check that the server is up (needs no credential).")

    @OptionGroup(title: "Global Options") var global: GlobalOptions

    func run() async throws {
        let reply = try await global.withClient(.none) { try await $0.health() }
        let address = try global.address(global.context())
        let status = switch reply.status {
        case .serving: "serving"
        case .notServing: "not serving"
        default: "unknown"
        }
        if global.json {
            Output.json(.object(["status": .string(status), "version": .string(reply.version),
                                 "server": .string(address.description)]))
        } else {
            Output.line("\(address): \(status)\(reply.version.isEmpty ? "" : ", version \(reply.version)")")
        }
        // A server that answers but is not serving is unavailable to scripts that wait on it.
        if reply.status != .serving { throw ExitCode(ExitStatus.unavailable) }
    }
}
