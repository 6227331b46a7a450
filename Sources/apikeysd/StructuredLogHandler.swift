import APIKeysWire
import Foundation
import Logging
import Synchronization

/// apikeysd's log lines on stderr, one event a line: logfmt (`--log-format logfmt`, the
/// default) for people and `grep`, JSON (`--log-format json`) for log shippers. Every line
/// has `ts` (UTC, milliseconds), `level`, `msg`, then the metadata sorted by key.
///
/// ```
/// ts=2026-11-30T14:00:00.000Z level=info msg=call method=/apikeys.v1.Keys/List status=OK ...
/// {"ts":"2026-11-30T14:00:00.000Z","level":"info","msg":"call",...,"status":"OK"}
/// ```
struct StructuredLogHandler: LogHandler {
    enum Format: String, CaseIterable, Sendable {
        case logfmt, json
    }

    let format: Format
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]
    var metadataProvider: Logger.MetadataProvider?

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// Lines from many threads must not interleave.
    private static let output = Mutex(())

    func log(level: Logger.Level, message: Logger.Message, metadata own: Logger.Metadata?,
             source: String, file: String, function: String, line: UInt) {
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { _, new in new } }
        if let own { all.merge(own) { _, new in new } }
        let line = render(level: level, message: "\(message)", metadata: all) + "\n"
        Self.output.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
    }

    func render(level: Logger.Level, message: String, metadata: Logger.Metadata) -> String {
        let fields = [("ts", Self.timestamp()), ("level", level.rawValue), ("msg", message)]
            + metadata.sorted { $0.key < $1.key }.map { ($0.key, Self.flatten($0.value)) }
        switch format {
        case .logfmt:
            return fields.map { "\($0.0)=\(Self.logfmtValue($0.1))" }.joined(separator: " ")
        case .json:
            return "{" + fields.map { "\(JSONValue.quoted($0.0)):\(JSONValue.quoted($0.1))" }.joined(separator: ",") + "}"
        }
    }

    private static func flatten(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): s
        case .stringConvertible(let c): c.description
        case .array(let a): "[" + a.map(flatten).joined(separator: ",") + "]"
        case .dictionary(let d): "{" + d.sorted { $0.key < $1.key }.map { "\($0.key)=\(flatten($0.value))" }.joined(separator: ",") + "}"
        }
    }

    /// Bare when safe, else quoted with `"`, `\` and control characters escaped: one
    /// event stays one line whatever a message holds.
    private static func logfmtValue(_ value: String) -> String {
        let bare = !value.isEmpty && value.unicodeScalars.allSatisfy { $0.value > 0x20 && $0 != "\"" && $0 != "=" && $0 != "\\" && $0.value != 0x7F }
        return bare ? value : JSONValue.quoted(value)
    }

    private static func timestamp() -> String {
        // Not timespec: built as a dependency (Benchmarks/), its members resolve to CDispatch's
        // copy of the type, which MemberImportVisibility refuses without an import of it.
        let now = Date().timeIntervalSince1970
        let whole = now.rounded(.down)
        var seconds = time_t(whole)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday,
                      parts.tm_hour, parts.tm_min, parts.tm_sec, min(999, Int32((now - whole) * 1000)))
    }
}
