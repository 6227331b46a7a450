internal import CAPIKeysCodec

/// A message of `proto/apikeys/v1`, encoded and decoded by protobuf-c through the C codec.
///
/// The conformances are generated into `Generated/Messages.swift` by `make proto`.
///
/// ```swift
/// let bytes = try APIKeysV1.VerifyRequest(secret: s).serializedBytes()
/// let request = try APIKeysV1.VerifyRequest(serializedBytes: bytes)
/// ```
public protocol ProtoMessage: Sendable, Equatable {
    /// The full protobuf name, e.g. `apikeys.v1.VerifyRequest`.
    static var protoName: String { get }
    /// Its C descriptor, looked up once per type.
    static var protoType: ProtoType { get }
    init(reader: ProtoReader)
    func write(to writer: ProtoWriter)
}

/// A decoding budget: unpacking a message may allocate at most this multiple of its size
/// (plus a floor), so hostile payloads with many tiny elements are refused, not obeyed.
let allocationBudgetFactor = 16
let allocationBudgetFloor = 64 * 1024

extension ProtoMessage {
    /// Decodes the protobuf bytes of this message type.
    public init(serializedBytes bytes: some Collection<UInt8>) throws(WireError) {
        let type = MessageTypes.type(Self.self)
        let budget = allocationBudgetFloor + allocationBudgetFactor * bytes.count
        // Read once and dropped: decoded into one arena (akc_message_view).
        var view = akc_message_view()
        let status: akc_status =
            bytes.withContiguousStorageIfAvailable { buffer in
                akc_message_view_decode(type, buffer.baseAddress, buffer.count, budget, &view)
            } ?? Array(bytes).withUnsafeBufferPointer { buffer in
                akc_message_view_decode(type, buffer.baseAddress, buffer.count, budget, &view)
            }
        guard status == AKC_OK, let decoded = view.message else {
            switch status {
            case AKC_OVER_BUDGET:
                throw WireError(code: .messageTooComplex, message: "\(Self.protoName) would need more memory to decode than its size allows")
            case AKC_BAD_STRING:
                throw WireError(code: .malformedMessage, message: "a string field of \(Self.protoName) is not valid UTF-8 or holds a NUL byte")
            default:
                throw WireError(code: .malformedMessage, message: "the bytes are not a valid \(Self.protoName)")
            }
        }
        defer { akc_message_view_release(&view) }
        self.init(reader: ProtoReader(decoded))
    }

    /// The protobuf encoding of this message.
    public func serializedBytes() -> [UInt8] {
        withBuilt { message, size in
            [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                count = akc_message_encode(message, buffer.baseAddress)
            }
        }
    }

    /// Replaces the contents of `bytes` with the protobuf encoding of this message, in the
    /// array's own storage when it is not shared and large enough.
    public func serialize(into bytes: inout [UInt8]) {
        withBuilt { message, size in
            bytes.removeAll(keepingCapacity: true)
            bytes.append(contentsOf: repeatElement(0, count: size))
            let written = bytes.withUnsafeMutableBufferPointer { akc_message_encode(message, $0.baseAddress) }
            precondition(written == size, "\(Self.protoName) encoded to \(written) bytes, not the \(size) it measured")
        }
    }

    /// Lends the message built in C, and its encoded size. Built, encoded and dropped whole:
    /// one arena (akc_builder) for all of it.
    private func withBuilt<R>(_ body: (OpaquePointer, Int) -> R) -> R {
        var built: OpaquePointer?
        guard let builder = akc_builder_new(MessageTypes.type(Self.self), &built), let message = built else {
            fatalError("out of memory creating \(Self.protoName)")
        }
        defer { akc_builder_free(builder) }
        write(to: ProtoWriter(message, builder: builder))
        return body(message, akc_message_encoded_size(message))
    }
}

/// A message type's C descriptor, found by name once (a binary search of the C table with
/// `strcmp`), when the generated type's `protoType` is first used; not on every encode and
/// decode, where the search cost ~800 instructions each.
public struct ProtoType: Sendable {
    /// The descriptor's address: descriptors are static C data, valid for the process.
    private let address: UInt

    init(named name: String) {
        guard let type = akc_type_named(name) else {
            fatalError("\(name) is not a message of proto/; run `make proto`")
        }
        address = UInt(bitPattern: type)
    }

    var pointer: OpaquePointer { OpaquePointer(bitPattern: address)! }
}

enum MessageTypes {
    @inline(__always)
    static func type<M: ProtoMessage>(_: M.Type) -> OpaquePointer { M.protoType.pointer }
}
