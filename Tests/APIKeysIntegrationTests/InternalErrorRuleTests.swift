import APIKeysClient
import APIKeysWire
import Foundation
import GRDB
import Logging
import Testing

/// Internal errors (issue 9, finding 9): a generic answer with an error ID; the cause in the log.
@Suite("Rules: internal errors")
struct InternalErrorRuleTests {
    @Test("Finding 9: an INTERNAL answer is 'internal error; error ID …', never SQLite's text, and the log has the cause under that ID")
    func genericAnswerLoggedCause() async throws {
        let logs = CapturedLogs()
        let own = try await OwnServer.start(logger: logs.logger)
        // The disk "fills" under the running server: every new tenant fails in SQLite.
        try await openDatabase(of: own.server.dataDirectory).write { db in
            try db.execute(sql: """
                CREATE TRIGGER disk_full BEFORE INSERT ON tenant
                BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END
                """)
        }
        let client = try await APIKeysClient.connect(host: own.shared.host, port: own.shared.port, credential: .operator(own.shared.operatorSecret))
        let error = await expectRefused(.internal, rule: nil, reason: "internal") {
            try await client.createTenant(APIKeysV1.CreateTenantRequest(tenantID: "acme", name: "Acme"))
        }
        let message = try #require(error?.message)
        let prefix = "internal error; error ID "
        #expect(message.hasPrefix(prefix), "\(message)")
        let id = String(message.dropFirst(prefix.count))
        #expect(id.count == 16 && id.allSatisfy(\.isHexDigit), "\(message)")
        #expect(!message.contains("SQLite") && !message.contains("disk"))
        // The cause once, at error; the call's access line (info) names the same ID.
        let logged = logs.records.filter { $0.metadata["error_id"] == id && $0.level != .info }
        #expect(logged.count == 1)
        #expect(logs.records.contains { $0.metadata["error_id"] == id && $0.metadata["status"] == "INTERNAL" })
        #expect(logged.first?.level == .error)
        #expect(logged.first?.metadata["cause"]?.contains("database or disk is full") == true, "\(logged)")
        await client.close()
        await own.stop()
    }
}
