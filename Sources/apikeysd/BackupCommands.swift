import APIKeysServer
import APIKeysWire
import ArgumentParser
import Foundation

/// `apikeysd backup --data-dir D --to FILE`: a consistent copy while the server serves.
struct BackupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikeysd backup",
        abstract: "Copy the database of a data directory to a new file, consistently, while a server may be serving from it.",
        version: APIKeysVersion.current)

    @Option(help: "The data directory to back up.") var dataDir = "data"
    @Option(help: ArgumentHelp("The new backup file (never overwritten).", valueName: "file")) var to: String

    func run() async throws {
        umask(0o077)
        do {
            let size = try Backup.backup(dataDirectory: dataDir, to: to)
            print("backed up \(dataDir) to \(to) (\(size) bytes)")
        } catch {
            Apikeysd.startFailure("backup failed: \(Apikeysd.oneLine(error))")
        }
    }
}

/// `apikeysd restore --from FILE --data-dir NEW`: a backup into a data directory with no database.
struct RestoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikeysd restore",
        abstract: "Put a backup into a data directory that holds no database yet (refused while a server runs there).",
        version: APIKeysVersion.current)

    @Option(help: ArgumentHelp("The backup file.", valueName: "file")) var from: String
    @Option(help: "The data directory to restore into (created when missing).") var dataDir: String

    func run() async throws {
        umask(0o077)
        do {
            try Backup.restore(from: from, dataDirectory: dataDir)
            print("restored \(from) into \(dataDir); start apikeysd --data-dir \(dataDir)")
        } catch let error as DataDirectoryError {
            Apikeysd.startFailure("restore refused: \(error.description)")
        } catch {
            Apikeysd.startFailure("restore failed: \(Apikeysd.oneLine(error))")
        }
    }
}
