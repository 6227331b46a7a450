import APIKeysClient
import APIKeysWire
import Foundation
import Testing

/// X8, X9: the usage flush must not take the CPU from Verify, and must not hand its idle
/// scheduling class to any other thread for good.
@Suite("Usage flush priority")
struct FlushPriorityTests {
    @Test("X9: threads that write usage in the idle scheduling class leave it afterwards; none keeps it")
    func idleClassIsTransient() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        var secrets: [String] = []
        for _ in 0..<3 { secrets.append(try await t.generate("dana").secret) }
        var seen: [Int: String] = [:]
        let end = ContinuousClock.now + .milliseconds(2_500)  // two or three flushes
        var verified = 0
        while ContinuousClock.now < end {
            for secret in secrets { _ = try await t.verifier.verify(APIKeysV1.VerifyRequest(secret: secret)) }
            verified += secrets.count
            for (tid, name) in Self.threads(withPolicy: 5) { seen[tid] = name }  // SCHED_IDLE
            // A steady trickle, not a flood: the suite's timing tests share these cores.
            try await Task.sleep(for: .milliseconds(10))
        }
        // Enough rounds that each flush in the window had usage to write. (Not a rate: each
        // round also reads every thread's /proc stat, slow when other work shares the cores.)
        #expect(verified >= 30)
        // Once the flushes are over, no thread seen in the class is still in it: a thread
        // started from inside the idle window would keep it and starve under load. (Other
        // suites' servers flush too, so a thread counts as released if any of three looks,
        // 100 ms apart, finds it out of the class.)
        try await Task.sleep(for: .milliseconds(1_500))
        var stillIdle = Set(seen.keys)
        for _ in 0..<3 where !stillIdle.isEmpty {
            stillIdle.formIntersection(Self.threads(withPolicy: 5).map(\.tid))
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(stillIdle.isEmpty, "threads kept SCHED_IDLE: \(stillIdle.map { seen[$0] ?? "?" })")
    }

    /// This process's threads whose scheduling policy (/proc stat field 41) is `policy`.
    static func threads(withPolicy policy: Int) -> [(tid: Int, name: String)] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.compactMap { task in
            guard let tid = Int(task),
                  let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")"),
                  let open = stat.firstIndex(of: "(")
            else { return nil }
            // Fields after the command name start at field 3.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 38, Int(fields[38]) == policy else { return nil }
            return (tid, String(stat[stat.index(after: open)..<close]))
        }
    }
}
