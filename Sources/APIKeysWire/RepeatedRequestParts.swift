internal import CAPIKeysCodec
#if canImport(Glibc)
import Glibc
#endif

/// The method and metadata of a connection's last request, kept so that a request repeating
/// them byte for byte (a client's Verify calls send one method and one credential) shares
/// the last request's `String`s and dictionary: no allocation, UTF-8 repair or hashing for
/// them (issue 14, goal 3). The message's bytes reuse the last message's array. Only small
/// ones are kept, so an idle connection holds at most `maxKeptBytes` three times over,
/// whatever its last request carried.
struct RepeatedRequestParts {
    static let maxKeptBytes = 1024

    private var methodString = ""
    private var methodBytes: [UInt8] = []
    private var metadataDictionary: [String: String] = [:]
    /// The metadata as it came: for each key and value, its length (8 bytes) and its bytes.
    private var metadataBytes: [UInt8] = []
    private var messageBytes: [UInt8] = []

    /// The request message's bytes, copied into the array the last request's message used
    /// when no one holds that any more (a synchronous call is done with it before the next
    /// frame is decoded): no allocation per Verify. A call still holding it (a task, a frame
    /// held while reading is paused) keeps its bytes; copy-on-write gives this one new storage.
    mutating func message(_ bytes: akc_bytes) -> [UInt8] {
        guard bytes.length <= Self.maxKeptBytes else {
            messageBytes = []
            return ProtoReader.bytes(bytes)
        }
        messageBytes.removeAll(keepingCapacity: true)
        messageBytes.append(contentsOf: UnsafeBufferPointer(start: bytes.data, count: bytes.length))
        return messageBytes
    }

    mutating func method(_ bytes: akc_bytes) -> String {
        if Self.equal(bytes, methodBytes) { return methodString }
        let method = ProtoReader.string(bytes)
        if bytes.length <= Self.maxKeptBytes {
            methodString = method
            methodBytes = Array(UnsafeBufferPointer(start: bytes.data, count: bytes.length))
        }
        return method
    }

    mutating func metadata(_ frame: akc_frame) -> [String: String] {
        if metadataMatches(frame) { return metadataDictionary }
        var dictionary: [String: String] = [:]
        dictionary.reserveCapacity(frame.metadata_count)
        var size = 0
        for i in 0..<frame.metadata_count {
            dictionary[ProtoReader.string(frame.metadata[2 * i])] = ProtoReader.string(frame.metadata[2 * i + 1])
            size += 16 + frame.metadata[2 * i].length + frame.metadata[2 * i + 1].length
        }
        // Too large to keep: the next request matches nothing (an empty set would match an
        // empty request, which gets an empty dictionary either way).
        var flattened: [UInt8] = []
        if size <= Self.maxKeptBytes {
            flattened.reserveCapacity(size)
            for i in 0..<2 * frame.metadata_count {
                let item = frame.metadata[i]
                withUnsafeBytes(of: UInt64(item.length)) { flattened.append(contentsOf: $0) }
                flattened.append(contentsOf: UnsafeBufferPointer(start: item.data, count: item.length))
            }
            metadataDictionary = dictionary
        } else {
            metadataDictionary = [:]
        }
        metadataBytes = flattened
        return dictionary
    }

    private func metadataMatches(_ frame: akc_frame) -> Bool {
        metadataBytes.withUnsafeBytes { cached in
            var offset = 0
            for i in 0..<2 * frame.metadata_count {
                let item = frame.metadata[i]
                guard offset + 8 + item.length <= cached.count,
                      cached.loadUnaligned(fromByteOffset: offset, as: UInt64.self) == UInt64(item.length),
                      item.length == 0 || memcmp(cached.baseAddress! + offset + 8, item.data, item.length) == 0
                else { return false }
                offset += 8 + item.length
            }
            return offset == cached.count
        }
    }

    private static func equal(_ bytes: akc_bytes, _ array: [UInt8]) -> Bool {
        array.count == bytes.length && array.withUnsafeBytes { stored in
            bytes.length == 0 || memcmp(stored.baseAddress!, bytes.data, bytes.length) == 0
        }
    }
}
