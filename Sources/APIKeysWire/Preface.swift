internal import CAPIKeysCodec

/// The 8 bytes a client sends first: "APIKEYS" and the protocol version.
public enum Preface {
    public static let version = UInt32(AKC_PROTOCOL_VERSION)
    public static let size = Int(AKC_PREFACE_SIZE)

    public static var bytes: [UInt8] {
        [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            akc_preface_write(buffer.baseAddress)
            count = size
        }
    }

    /// nil while more bytes are needed; throws as soon as the bytes cannot be a preface.
    static func check(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> Bool {
        var version: UInt8 = 0
        let status = akc_preface_check(bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count, &version)
        switch status {
        case AKC_OK:
            return true
        case AKC_NEED_MORE:
            return false
        case AKC_BAD_VERSION:
            throw WireError(code: .unsupportedVersion,
                            message: "protocol version \(version) is not supported; this server speaks version \(Preface.version)")
        default:
            throw WireError(code: .badPreface, message: "the connection must start with the preface \"APIKEYS\" and a version byte")
        }
    }
}
