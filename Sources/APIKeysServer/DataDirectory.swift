import Foundation
import Synchronization

/// The server's data directory: private to its user whatever the umask (0700, its SQLite
/// files 0600), and held by one server at a time (X21).
///
/// The lock is `flock` on the directory itself (a file in it could be deleted by a tmp
/// cleaner or a hurried operator, letting a second server in); `apikeysd.lock` only holds
/// the holder's PID for the message. The kernel releases the lock when the process ends,
/// however it ends (SIGKILL included), so a crashed server never leaves a stale lock.
/// Nothing in the directory is followed through a symbolic link (the server may run as root).
final class DataDirectory: Sendable {
    static let lockFileName = "apikeysd.lock"
    static let databaseFileName = "apikeys.sqlite"

    let path: String
    private let lockDescriptor: Mutex<Int32?>
    private let directoryDescriptor: Mutex<Int32?>

    var databasePath: String { (path as NSString).appendingPathComponent(Self.databaseFileName) }

    /// Creates the directory if missing, takes its lock and makes the files private.
    /// Throws ``DataDirectoryError/inUse(path:pid:)`` when another server holds it.
    init(path: String) throws {
        self.path = path
        let existed = FileManager.default.fileExists(atPath: path)
        try FileManager.default.createDirectory(
            atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        // A directory an older version made (0755, with our database in it) is tightened too;
        // a directory someone else made (--data-dir /srv) is left as it is: the files in it
        // are 0600 either way.
        let ours = !existed || FileManager.default.fileExists(atPath: (path as NSString).appendingPathComponent(Self.databaseFileName))
        if ours, chmod(path, 0o700) != 0 { throw DataDirectoryError.system("chmod \(path)", errno) }

        // The operator chose this path (a link to it is fine); what is inside is never followed.
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        guard attributes[.type] as? FileAttributeType == .typeDirectory else {
            throw DataDirectoryError.refused("the data directory \(path) is not a directory")
        }
        let owner = (attributes[.ownerAccountID] as? NSNumber)?.uint32Value
        guard owner == geteuid() else {
            throw DataDirectoryError.refused("the data directory \(path) belongs to another user (uid \(owner.map(String.init) ?? "?")); give one that apikeysd's user owns")
        }
        let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? 0
        guard mode & 0o022 == 0 else {
            throw DataDirectoryError.refused("the data directory \(path) is writable by other users (mode \(String(mode & 0o777, radix: 8))); run chmod go-w on it or choose another --data-dir")
        }
        let directory = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { throw DataDirectoryError.system("open \(path)", errno) }
        let lockPath = (path as NSString).appendingPathComponent(Self.lockFileName)
        guard flock(directory, LOCK_EX | LOCK_NB) == 0 else {
            let error = errno
            close(directory)
            if error == EWOULDBLOCK { throw DataDirectoryError.inUse(path: path, pid: Self.readPID(atPath: lockPath)) }
            throw DataDirectoryError.system("flock \(path)", error)
        }
        let fd = open(lockPath, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            let error = errno
            close(directory)
            throw DataDirectoryError.system("open \(lockPath)", error)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = fchmod(fd, 0o600)
        guard ftruncate(fd, 0) == 0, pwrite(fd, pid, pid.count, 0) == pid.count else {
            let error = errno
            close(fd)
            close(directory)
            throw DataDirectoryError.system("write \(lockPath)", error)
        }
        directoryDescriptor = Mutex(directory)
        lockDescriptor = Mutex(fd)
        try prepareDatabaseFiles()
    }

    deinit { release() }

    /// Lets the next server in; called at the end of shutdown (and by deinit).
    func release() {
        if let fd = lockDescriptor.withLock({ fd in defer { fd = nil }; return fd }) { close(fd) }
        if let fd = directoryDescriptor.withLock({ fd in defer { fd = nil }; return fd }) { close(fd) }
    }

    /// Creates the database file 0600 before SQLite opens it: SQLite gives its -wal and -shm
    /// files the database file's mode, so they are private too, whenever they are created.
    /// Files an older version made under a laxer umask are tightened.
    private func prepareDatabaseFiles() throws {
        let database = databasePath
        let fd = open(database, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DataDirectoryError.system("open \(database)", errno) }
        defer { close(fd) }
        guard fchmod(fd, 0o600) == 0 else { throw DataDirectoryError.system("chmod \(database)", errno) }
        tightenSideFiles()
    }

    /// The journal files that exist now, 0600 (they may also appear later, with the
    /// database file's mode).
    func tightenSideFiles() {
        for suffix in ["-wal", "-shm", "-journal"] {
            _ = chmod(databasePath + suffix, 0o600)
        }
    }

    private static func readPID(atPath path: String) -> Int32? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 32)
        let count = pread(fd, &buffer, buffer.count, 0)
        guard count > 0 else { return nil }
        return Int32(String(decoding: buffer[..<count], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

/// Why the data directory could not be opened.
public enum DataDirectoryError: Error, CustomStringConvertible {
    /// Another server (X21) holds the directory's lock.
    case inUse(path: String, pid: Int32?)
    case system(String, Int32)
    case refused(String)

    public var description: String {
        switch self {
        case .inUse(let path, let pid):
            let holder = pid.map { "apikeysd (pid \($0))" } ?? "another apikeysd"
            return "the data directory \(path) is in use by \(holder): two servers must never share one SQLite database (X21); stop it or choose another --data-dir"
        case .system(let operation, let code):
            return "\(operation): \(String(cString: strerror(code)))"
        case .refused(let why):
            return why
        }
    }
}
