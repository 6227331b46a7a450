internal import CAPIKeysCodec

/// Reads the fields of a decoded message by field number; only generated code uses it.
/// Valid only inside `ProtoMessage.init(reader:)`.
public struct ProtoReader {
    let message: OpaquePointer

    init(_ message: OpaquePointer) {
        self.message = message
    }

    func has(_ field: UInt32) -> Bool { akc_has(message, field) }
    func uint(_ field: UInt32) -> UInt64 { akc_get_uint(message, field) }
    func int(_ field: UInt32) -> Int64 { akc_get_int(message, field) }
    func string(_ field: UInt32) -> String { Self.string(akc_get_bytes(message, field)) }
    func bytes(_ field: UInt32) -> [UInt8] { Self.bytes(akc_get_bytes(message, field)) }

    func message(_ field: UInt32) -> ProtoReader? {
        akc_get_message(message, field).map(ProtoReader.init)
    }

    func strings(_ field: UInt32) -> [String] {
        (0..<akc_count(message, field)).map { Self.string(akc_get_bytes_at(message, field, $0)) }
    }

    func uints(_ field: UInt32) -> [UInt64] {
        (0..<akc_count(message, field)).map { akc_get_uint_at(message, field, $0) }
    }

    func ints(_ field: UInt32) -> [Int64] {
        (0..<akc_count(message, field)).map { akc_get_int_at(message, field, $0) }
    }

    func messages(_ field: UInt32) -> [ProtoReader] {
        (0..<akc_count(message, field)).compactMap { akc_get_message_at(message, field, $0).map(ProtoReader.init) }
    }

    /// A `map<string, string>`: entries with key 1 and value 2. A repeated key keeps the last value,
    /// as protobuf specifies.
    func stringMap(_ field: UInt32) -> [String: String] {
        var map: [String: String] = [:]
        for entry in messages(field) {
            map[entry.string(1)] = entry.string(2)
        }
        return map
    }

    static func string(_ bytes: akc_bytes) -> String {
        // Invalid UTF-8 is repaired with U+FFFD, so a String is always well-formed.
        String(decoding: UnsafeBufferPointer(start: bytes.data, count: bytes.length), as: UTF8.self)
    }

    static func bytes(_ bytes: akc_bytes) -> [UInt8] {
        Array(UnsafeBufferPointer(start: bytes.data, count: bytes.length))
    }
}
