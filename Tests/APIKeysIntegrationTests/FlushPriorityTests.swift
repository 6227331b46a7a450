import APIKeysClient
import APIKeysWire
import Foundation
import Testing

/// X8, X9: the usage flush must not take the CPU from Verify, and must not hand its idle
/// scheduling class to any other thread.
@Suite("Usage flush priority")
struct FlushPriorityTests {
    @Test("X9: while keys are verified and their usage flushed, no thread but the flush thread is ever in the idle scheduling class")
    func noOtherThreadInheritsIdleClass() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        var secrets: [String] = []
        for _ in 0..<3 { secrets.append(try await t.generate("dana").secret) }
        var seen = Set<String>()
        let end = ContinuousClock.now + .milliseconds(2_500)  // two or three flushes
        var verified = 0
        while ContinuousClock.now < end {
            for secret in secrets { _ = try await t.verifier.verify(VerifyRequest(secret: secret)) }
            verified += secrets.count
            seen.formUnion(Self.threads(withPolicy: 5))  // SCHED_IDLE
            // A steady trickle, not a flood: the suite's timing tests share these cores.
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(verified > 100)
        // A Dispatch or NIO thread created from inside the idle window would keep the class
        // and starve under load.
        #expect(seen.subtracting(["apikeys-flush"]).isEmpty, "threads in SCHED_IDLE: \(seen)")
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
