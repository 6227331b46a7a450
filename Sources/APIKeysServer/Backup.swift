import APIKeysStorage
import Foundation

/// `apikeysd backup` and `apikeysd restore`: the data directory's database to a file and back.
public enum Backup {
    /// A consistent copy of the database in `dataDirectory` to the new file `file`, while a
    /// server may be serving from it: it reads through SQLite and never takes the data
    /// directory's lock (X21), which belongs to the server.
    @discardableResult
    public static func backup(dataDirectory: String, to file: String) throws -> Int {
        let database = (dataDirectory as NSString).appendingPathComponent(DataDirectory.databaseFileName)
        return try SQLiteBackup.copy(from: database, to: file)
    }

    /// Puts the backup `file` into `dataDirectory`, which must hold no database yet. Takes
    /// the directory's lock first, so it refuses while a server runs there.
    public static func restore(from file: String, dataDirectory: String) throws {
        try SQLiteBackup.validate(file)
        let directory = try DataDirectory(path: dataDirectory)
        defer { directory.release() }
        let database = directory.databasePath
        let size = (try? FileManager.default.attributesOfItem(atPath: database)[.size] as? Int) ?? 0
        guard size == 0 else {
            throw DataDirectoryError.refused("\(dataDirectory) already holds a database: restore into a new data directory, then point --data-dir at it")
        }
        // DataDirectory made an empty 0600 file as the target; the copy takes its place.
        unlink(database)
        try SQLiteBackup.copy(from: file, to: database)
        directory.tightenSideFiles()
    }
}
