#if canImport(Glibc)
import Glibc
#endif

/// The keys a benchmark verifies: what `bench-seed` wrote next to the SQLite file, one
/// key a line: `secret TAB tenant TAB user TAB keyID TAB expiresAtMs TAB roles,comma,separated`.
///
/// The gRPC and HTTP peers build their in-memory lookup from it; the load generators
/// take the secrets from it, in a shuffled order so no cache sees them sequentially.
public struct KeySet: Sendable {
    public struct Entry: Sendable {
        public var secret: String
        public var tenantID: String
        public var userID: String
        public var keyID: String
        public var expiresAtMs: Int64
        public var roles: [String]

        public init(secret: String, tenantID: String, userID: String, keyID: String, expiresAtMs: Int64, roles: [String]) {
            self.secret = secret
            self.tenantID = tenantID
            self.userID = userID
            self.keyID = keyID
            self.expiresAtMs = expiresAtMs
            self.roles = roles
        }

        public var line: String {
            [secret, tenantID, userID, keyID, String(expiresAtMs), roles.joined(separator: ",")].joined(separator: "\t")
        }
    }

    public var entries: [Entry]

    public init(entries: [Entry]) {
        self.entries = entries
    }

    /// Reads a keys file; exits with a message when it cannot.
    public static func load(path: String) -> KeySet {
        guard let text = readFile(path) else { fail("cannot read the keys file \(path)") }
        var entries: [Entry] = []
        for line in text.split(separator: "\n") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == 6, let expires = Int64(f[4]) else { fail("bad line in \(path): \(line.prefix(80))") }
            entries.append(Entry(
                secret: String(f[0]), tenantID: String(f[1]), userID: String(f[2]), keyID: String(f[3]),
                expiresAtMs: expires, roles: f[5].split(separator: ",").map(String.init)))
        }
        guard !entries.isEmpty else { fail("no keys in \(path)") }
        return KeySet(entries: entries)
    }

    /// The secrets in a fixed pseudo-random order (the same in every run).
    public func shuffledSecrets() -> [String] {
        var generator = SplitMix64(seed: 42)
        return entries.map(\.secret).shuffled(using: &generator)
    }
}

/// A seeded generator, so runs verify the same sequence of keys.
public struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

public func readFile(_ path: String) -> String? {
    guard let file = fopen(path, "r") else { return nil }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = fread(&chunk, 1, chunk.count, file)
        if n <= 0 { break }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return String(decoding: bytes, as: UTF8.self)
}

public func writeFile(_ path: String, _ text: String) {
    guard let file = fopen(path, "w") else { fail("cannot write \(path)") }
    defer { fclose(file) }
    var text = text
    text.withUTF8 { _ = fwrite($0.baseAddress, 1, $0.count, file) }
}

public func fail(_ message: String) -> Never {
    writeStandardError("error: \(message)\n")
    exit(1)
}

/// Prints to stderr: progress, kept apart from the result line on stdout.
public func note(_ message: String) {
    writeStandardError(message + "\n")
}

private func writeStandardError(_ text: String) {
    var text = text
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

/// Writes a line to stdout at once (stdout is a file under scripts/bench.sh, which waits
/// for servers' "listening" lines).
public func printNow(_ line: String) {
    var text = line + "\n"
    text.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
}
