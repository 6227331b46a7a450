import APIKeysServer
import Foundation
import Testing

/// X8, X9: the usage flush must not take the CPU from Verify.
@Suite("Usage flush priority")
struct FlushPriorityTests {
    @Test("X9: the server's usage flush runs on a thread of Linux's idle scheduling class")
    func flushThreadIsIdleClass() async throws {
        let server = try await TestServer.start { $0.usageFlushInterval = .milliseconds(100) }
        // The flush thread takes the class on its first flush.
        var idleThreads: [String] = []
        for _ in 0..<50 where idleThreads.isEmpty {
            try await Task.sleep(for: .milliseconds(100))
            idleThreads = Self.threads(withPolicy: 5)  // SCHED_IDLE
        }
        await server.stop()
        #expect(!idleThreads.isEmpty, "no thread of this process is in SCHED_IDLE")
        #expect(idleThreads.allSatisfy { $0.hasPrefix("TP-") }, "\(idleThreads)")
    }

    /// Names of this process's threads whose scheduling policy (/proc stat field 41) is `policy`.
    static func threads(withPolicy policy: Int) -> [String] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { tid in
            guard let stat = try? String(contentsOfFile: "/proc/self/task/\(tid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")"),
                  let open = stat.firstIndex(of: "(")
            else { return nil }
            // Fields after the command name start at field 3.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 38, Int(fields[38]) == policy else { return nil }
            return String(stat[stat.index(after: open)..<close])
        }
    }
}
