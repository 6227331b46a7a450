import Foundation
import GRDB

/// Consistent copies of an apikeys SQLite database with SQLite's online backup API: the
/// copy is one snapshot of the database, taken while a server goes on reading and writing
/// (WAL readers do not block the writer).
public enum SQLiteBackup {
    /// Copies the database at `source` to a new file `destination` (created 0600; an
    /// existing file is never overwritten). Written beside it, synced, then renamed, so a
    /// crash leaves no half copy under that name. Returns the copy's size in bytes.
    @discardableResult
    public static func copy(from source: String, to destination: String) throws -> Int {
        guard !FileManager.default.fileExists(atPath: destination) else {
            throw BackupError("\(destination) exists: a backup never overwrites a file")
        }
        guard FileManager.default.fileExists(atPath: source) else {
            throw BackupError("there is no database at \(source)")
        }
        var readOnly = GRDB.Configuration()
        readOnly.readonly = true
        readOnly.busyMode = .timeout(30)
        // One read transaction over the whole copy: in WAL mode it sees one snapshot and
        // never blocks the server's writer.
        let from = try DatabaseQueue(path: source, configuration: readOnly)
        let temporary = destination + ".partial-\(getpid())"
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw BackupError("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        close(fd)
        do {
            let to = try DatabaseQueue(path: temporary)
            try from.backup(to: to)
            try to.writeWithoutTransaction { db in
                // The copy is one file, with no -wal beside it.
                try db.execute(sql: "PRAGMA journal_mode = DELETE")
            }
            try to.close()
            try from.close()
            try sync(temporary)
            guard rename(temporary, destination) == 0 else {
                throw BackupError("cannot rename \(temporary) to \(destination): \(String(cString: strerror(errno)))")
            }
            try sync((destination as NSString).deletingLastPathComponent.isEmpty ? "." : (destination as NSString).deletingLastPathComponent)
        } catch {
            unlink(temporary)
            throw error
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: destination)
        return (attributes[.size] as? Int) ?? 0
    }

    /// Checks that `path` is a whole apikeys database (integrity and schema) before a restore.
    public static func validate(_ path: String) throws {
        var readOnly = GRDB.Configuration()
        readOnly.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: readOnly)
        defer { try? queue.close() }
        try queue.read { db in
            let check = try String.fetchOne(db, sql: "PRAGMA integrity_check") ?? ""
            guard check == "ok" else { throw BackupError("\(path) is damaged: \(check)") }
            guard try db.tableExists("tenant"), try db.tableExists("api_key") else {
                throw BackupError("\(path) is not an apikeys database")
            }
        }
    }

    private static func sync(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw BackupError("cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw BackupError("cannot sync \(path): \(String(cString: strerror(errno)))") }
    }
}

public struct BackupError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
