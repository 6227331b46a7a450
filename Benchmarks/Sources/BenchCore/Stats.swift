#if canImport(Glibc)
import Glibc
#endif

/// Latency samples (nanoseconds) and their percentiles.
public struct Samples: Sendable {
    public private(set) var values: [UInt32] = []

    public init(capacity: Int = 1 << 20) {
        values.reserveCapacity(capacity)
    }

    @inline(__always)
    public mutating func add(nanoseconds: UInt64) {
        values.append(UInt32(clamping: nanoseconds))
    }

    public mutating func merge(_ other: Samples) {
        values.append(contentsOf: other.values)
    }

    public var count: Int { values.count }

    /// Percentiles in microseconds, e.g. `[50, 99, 99.9]`; nearest-rank on the sorted samples.
    public func percentilesMicros(_ ps: [Double]) -> [Double] {
        guard !values.isEmpty else { return ps.map { _ in .nan } }
        let sorted = values.sorted()
        return ps.map { p in
            let rank = Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1
            return Double(sorted[max(0, min(sorted.count - 1, rank))]) / 1000
        }
    }
}

/// Monotonic nanoseconds (CLOCK_MONOTONIC).
@inline(__always)
public func nowNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// CPU seconds a process's threads have run, summed from /proc/PID/task/*/schedstat
/// (nanosecond scheduler accounting; /proc/PID/stat's tick-sampled utime+stime was seen
/// to double-count on this VM). Nil if unreadable. Threads that exited are not counted.
public func processCPUSeconds(pid: Int32) -> Double? {
    guard let dir = opendir("/proc/\(pid)/task") else { return nil }
    defer { closedir(dir) }
    var total: UInt64 = 0
    var found = false
    while let entry = readdir(dir) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        guard let first = name.utf8.first, first >= 48, first <= 57,
              let stat = readFile("/proc/\(pid)/task/\(name)/schedstat"),
              let ns = stat.split(separator: " ").first.flatMap({ UInt64($0) })
        else { continue }
        total += ns
        found = true
    }
    return found ? Double(total) / 1e9 : nil
}

/// CPU seconds this process has used.
public func selfCPUSeconds() -> Double {
    processCPUSeconds(pid: getpid()) ?? 0
}

/// One load-generator run, printed as a single line of `key=value` pairs that
/// scripts/bench.sh collects.
public struct RunResult {
    public var calls: Int
    public var errors: Int
    public var seconds: Double
    public var p50: Double
    public var p99: Double
    public var p999: Double
    public var serverCPU: Double?
    public var clientCPU: Double

    public init(samples: Samples, errors: Int, seconds: Double, serverCPU: Double?, clientCPU: Double) {
        let p = samples.percentilesMicros([50, 99, 99.9])
        self.calls = samples.count
        self.errors = errors
        self.seconds = seconds
        self.p50 = p[0]
        self.p99 = p[1]
        self.p999 = p[2]
        self.serverCPU = serverCPU
        self.clientCPU = clientCPU
    }

    public var line: String {
        let rps = Double(calls) / seconds
        var s = "rps=\(fmt(rps, 0)) p50_us=\(fmt(p50, 1)) p99_us=\(fmt(p99, 1)) p999_us=\(fmt(p999, 1))"
        s += " calls=\(calls) errors=\(errors) seconds=\(fmt(seconds, 2))"
        if let serverCPU, calls > 0 { s += " server_cpu_us_per_call=\(fmt(serverCPU / Double(calls) * 1e6, 2))" }
        s += " client_cpu_pct=\(fmt(clientCPU / seconds * 100, 0))"
        return s
    }
}

public func fmt(_ value: Double, _ decimals: Int) -> String {
    guard value.isFinite else { return "nan" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    if decimals == 0 { return String(Int(rounded)) }
    var text = String(rounded)
    if let dot = text.firstIndex(of: ".") {
        let have = text.distance(from: dot, to: text.endIndex) - 1
        if have < decimals { text += String(repeating: "0", count: decimals - have) }
    }
    return text
}
