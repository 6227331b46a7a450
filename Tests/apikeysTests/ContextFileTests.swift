import ArgumentParser
import Foundation
import Testing
@testable import apikeys

@Suite("apikeys: contexts of the config file")
struct ContextFileTests {
    /// A config file in a directory of its own, removed by the caller.
    static func write(_ json: String) throws -> (path: String, directory: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("apikeys-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let path = directory.appendingPathComponent("config.json").path
        try json.write(toFile: path, atomically: true, encoding: .utf8)
        return (path, directory)
    }

    @Test("settings, paths relative to the file, the current context")
    func load() throws {
        let (path, directory) = try Self.write("""
            {"current-context": "prod", "contexts": {
              "prod": {"server": "apikeys.internal:7420", "tls-ca": "ca.pem", "tls": true, "timeout": 10,
                       "operator-credential-file": "/etc/apikeys/operator", "tenant": "acme"},
              "local": {}}}
            """)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = try #require(try ContextFile.load(path))
        let prod = try #require(try file.selected(nil))
        #expect(prod.name == "prod" && prod.server == "apikeys.internal:7420" && prod.tenant == "acme")
        #expect(prod.tlsCA == directory.appendingPathComponent("ca.pem").path)
        #expect(prod.operatorCredentialFile == "/etc/apikeys/operator")
        #expect(prod.tls == true && prod.timeout == 10)
        #expect(try file.selected("local")?.server == nil)
    }

    @Test("an unknown key or context is refused, naming what is known")
    func refused() throws {
        let (path, directory) = try Self.write(#"{"contexts": {"a": {"tls_ca": "x"}}}"#)
        defer { try? FileManager.default.removeItem(at: directory) }
        #expect(throws: ValidationError.self) { try ContextFile.load(path) }
        try #"{"contexts": {"b": {}, "a": {}}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        let file = try #require(try ContextFile.load(path))
        do {
            _ = try file.selected("c")
            Issue.record("expected an error")
        } catch let error as ValidationError {
            #expect(error.message == "no context 'c' in \(path); it has: a, b")
        }
        #expect(try ContextFile.load(directory.appendingPathComponent("none.json").path) == nil)
    }

    @Test("a secret file's one line, never echoed in an error")
    func secretFile() throws {
        #expect(try SecretSource.secret(in: "# the key\n\n  apk_abc  \n", what: "f") == "apk_abc")
        do {
            _ = try SecretSource.secret(in: "apk_abc\napk_def\n", what: "--api-key-file f")
            Issue.record("expected an error")
        } catch let error as ValidationError {
            #expect(error.message == "--api-key-file f: expected the secret alone on one line, found 2 lines")
        }
    }
}
