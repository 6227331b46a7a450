import BenchCore
import NIOCore

/// The state of one closed-loop run, shared by every connection. All connections run on
/// one event loop, so this is only ever touched from that loop's thread.
final class LoadRun: @unchecked Sendable {
    enum Phase { case warmup, measure, stopped }

    private(set) var phase = Phase.warmup
    var samples = Samples(capacity: 4 << 20)
    var errors = 0
    var firstError: String?
    private(set) var measureStart: UInt64 = 0
    private(set) var measureEnd: UInt64 = 0
    private var clientCPUStart = 0.0
    private(set) var clientCPU = 0.0
    private let serverPID: Int32?
    private var serverCPUStart: Double?
    private(set) var serverCPU: Double?
    let done: EventLoopPromise<Void>
    /// Connections that send requests whenever a slot frees; kicked if they stall.
    var senders: [() -> Void] = []

    init(eventLoop: any EventLoop, serverPID: Int32?) {
        self.serverPID = serverPID
        self.done = eventLoop.makePromise()
    }

    func startMeasuring() {
        phase = .measure
        if let serverPID { serverCPUStart = processCPUSeconds(pid: serverPID) }
        clientCPUStart = selfCPUSeconds()
        measureStart = nowNanos()
    }

    func stop() {
        guard phase != .stopped else { return }
        measureEnd = nowNanos()
        clientCPU = selfCPUSeconds() - clientCPUStart
        if let serverPID, let start = serverCPUStart, let end = processCPUSeconds(pid: serverPID) {
            serverCPU = end - start
        }
        phase = .stopped
        done.succeed()
    }

    /// Records a completed call, if it completed while measuring.
    @inline(__always)
    func complete(sentAt: UInt64, ok: Bool, now: UInt64, error: @autoclosure () -> String) {
        guard phase == .measure else { return }
        samples.add(nanoseconds: now &- sentAt)
        if !ok {
            errors += 1
            if firstError == nil { firstError = error() }
        }
    }

    func fatal(_ message: String) {
        if firstError == nil { firstError = message }
        errors += 1
        stop()
    }

    var result: RunResult {
        RunResult(
            samples: samples, errors: errors, seconds: Double(measureEnd - measureStart) / 1e9,
            serverCPU: serverCPU, clientCPU: clientCPU)
    }
}
