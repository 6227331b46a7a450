import APIKeysConformance
import Testing

/// The Swift client passes the conformance suite against a real server over TCP.
@Suite("Conformance over TCP")
struct ConformanceTests {
    static let server = LazyServer()

    @Test("conformance case", arguments: ConformanceSuite.cases.map(\.name))
    func conformance(_ name: String) async throws {
        let server = try await Self.server.get()
        let target = ConformanceTarget(host: server.host, port: server.port, silenceTimeout: .seconds(16))
        let test = try #require(ConformanceSuite.cases.first { $0.name == name })
        let failure = await test.run(against: target)
        #expect(failure == nil, "\(name): \(failure ?? "")")
    }
}

/// One server shared by every case of a suite, started on first use.
actor LazyServer {
    private var server: TestServer?

    func get() async throws -> TestServer {
        if let server { return server }
        let started = try await TestServer.start()
        server = started
        return started
    }
}
