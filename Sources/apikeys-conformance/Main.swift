import APIKeysConformance
import APIKeysWire
import ArgumentParser

/// Checks any running apikeys server (started with `--conformance`) against the protocol,
/// one line per case.
@main
struct ApikeysConformance: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikeys-conformance",
        abstract: "Checks a running apikeys server against docs/PROTOCOL.md (start it with --conformance).",
        version: APIKeysVersion.current)

    @Option(help: "The server, HOST:PORT.") var server = "127.0.0.1:7420"
    @Option(help: "Seconds the server may take to close a silent connection (its handshake timeout plus slack).")
    var silenceTimeout = 15.0
    @Option(help: "Run only the cases whose name contains this text.") var filter: String?
    @Flag(help: "List the cases and exit.") var list = false

    func run() async throws {
        if list {
            for test in ConformanceSuite.cases { print(test.name) }
            return
        }
        guard let colon = server.lastIndex(of: ":"), let port = Int(server[server.index(after: colon)...]) else {
            throw ValidationError("--server must be HOST:PORT, got \(server)")
        }
        let target = ConformanceTarget(host: String(server[..<colon]), port: port, silenceTimeout: .seconds(silenceTimeout))
        let (passed, failed) = await ConformanceSuite.run(against: target, filter: filter) { name, failure in
            if let failure {
                print("FAIL  \(name): \(failure)")
            } else {
                print("PASS  \(name)")
            }
        }
        print("conformance: \(passed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode(1) }
    }
}
