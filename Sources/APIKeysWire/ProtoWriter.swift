internal import CAPIKeysCodec
#if canImport(Glibc)
import Glibc
#endif

/// Sets the fields of a message being built, by field number; only generated code uses it.
/// Valid only inside `ProtoMessage.write(to:)`.
public struct ProtoWriter {
    let message: OpaquePointer
    /// The builder whose arena holds the message and every value set on it.
    let builder: OpaquePointer

    init(_ message: OpaquePointer, builder: OpaquePointer) {
        self.message = message
        self.builder = builder
    }

    func set(_ field: UInt32, _ value: UInt64) { check(akc_set_uint(builder, message, field, value), field) }
    func set(_ field: UInt32, _ value: Int64) { check(akc_set_int(builder, message, field, value), field) }

    func set(_ field: UInt32, _ value: String) {
        var value = withoutNUL(value)
        value.withUTF8 { check(akc_set_bytes(builder, message, field, $0.baseAddress, $0.count), field) }
    }

    func set(_ field: UInt32, _ value: [UInt8]) {
        value.withUnsafeBufferPointer { check(akc_set_bytes(builder, message, field, $0.baseAddress, $0.count), field) }
    }

    func setMessage(_ field: UInt32) -> ProtoWriter {
        guard let sub = akc_set_message(builder, message, field) else { fatalError("cannot set message field \(field)") }
        return ProtoWriter(sub, builder: builder)
    }

    func addMessage(_ field: UInt32) -> ProtoWriter {
        guard let sub = akc_add_message(builder, message, field) else { fatalError("cannot add to message field \(field)") }
        return ProtoWriter(sub, builder: builder)
    }

    func addStrings(_ field: UInt32, _ values: [String]) {
        for value in values {
            var value = withoutNUL(value)
            value.withUTF8 { check(akc_add_bytes(builder, message, field, $0.baseAddress, $0.count), field) }
        }
    }

    func addUInts(_ field: UInt32, _ values: [UInt64]) {
        for value in values { check(akc_add_uint(builder, message, field, value), field) }
    }

    func addInts(_ field: UInt32, _ values: [Int64]) {
        for value in values { check(akc_add_int(builder, message, field, value), field) }
    }

    func setStringMap(_ field: UInt32, _ map: [String: String]) {
        // Sorted, so equal maps encode to equal bytes.
        for (key, value) in map.sorted(by: { $0.key < $1.key }) {
            let entry = addMessage(field)
            entry.set(1, key)
            entry.set(2, value)
        }
    }

    /// protobuf-c measures strings with strlen, so a NUL would cut the string short;
    /// it is dropped instead.
    private func withoutNUL(_ value: String) -> String {
        Self.containsNUL(value) ? String(value.unicodeScalars.filter { $0 != "\0" }.map(Character.init)) : value
    }

    /// memchr over the contiguous UTF-8 (every native string): `utf8.contains(0)` walked the
    /// view a byte at a time, ~500 instructions per field of every response.
    private static func containsNUL(_ value: String) -> Bool {
        value.utf8.withContiguousStorageIfAvailable { bytes in
            bytes.isEmpty ? false : memchr(bytes.baseAddress!, 0, bytes.count) != nil
        } ?? value.utf8.contains(0)
    }

    private func check(_ status: akc_status, _ field: UInt32) {
        if status != AKC_OK {
            fatalError("generated code wrote field \(field) with the wrong type (status \(status.rawValue))")
        }
    }
}
