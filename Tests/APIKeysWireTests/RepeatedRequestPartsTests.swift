@testable import APIKeysWire
import NIOCore
import Testing

/// Issue 14, goal 3: a connection's decoder reuses the last request's method and metadata
/// strings when the next request repeats them, so every decoded frame must still equal what a
/// fresh decode gives, whatever the sequence.
@Suite("Repeated request parts (method, metadata, message bytes)")
struct RepeatedRequestPartsTests {
    static func request(_ id: UInt64, _ method: String, _ metadata: [(String, String)]) -> [UInt8] {
        var frame = RequestFrame(callID: id, method: method, message: [0x0A, 0x01, 0x78])
        frame.metadata = Dictionary(metadata, uniquingKeysWith: { _, last in last })
        return Array(FrameCodec.encode(.request(frame)).dropFirst(FrameCodec.lengthPrefixSize))
    }

    /// Decodes each body with one shared cache, as one connection does, and checks each
    /// against a decode with no cache.
    static func decodeInSequence(_ bodies: [[UInt8]]) throws -> [Frame] {
        var strings = RepeatedRequestParts()
        return try bodies.map { body in
            let reused = try body.withUnsafeBytes { try FrameCodec.decode(body: $0, reusing: &strings) }
            #expect(reused == (try decodeBody(body)))
            return reused
        }
    }

    @Test("a sequence of repeated, changed, emptied and oversized methods and metadata decodes as without reuse")
    func everySequenceDecodesAsFresh() throws {
        let verify = "/apikeys.v1.Keys/Verify"
        let credential = String(repeating: "k", count: 60)
        let big = String(repeating: "v", count: RepeatedRequestParts.maxKeptBytes + 1)
        let bodies = [
            Self.request(1, verify, [("authorization", credential)]),
            Self.request(3, verify, [("authorization", credential)]),
            Self.request(5, verify, [("authorization", credential + "x")]),
            Self.request(7, "/apikeys.v1.Keys/List", [("authorization", credential + "x")]),
            Self.request(9, "/apikeys.v1.Keys/List", []),
            Self.request(11, "/apikeys.v1.Keys/List", [("ab", "c")]),
            // The same bytes split differently between key and value.
            Self.request(13, "/apikeys.v1.Keys/List", [("a", "bc")]),
            Self.request(15, verify, [("authorization", big)]),
            Self.request(17, verify, [("authorization", big)]),
            Self.request(19, verify, []),
            Self.request(21, "", []),
            Self.request(23, String(repeating: "/m", count: 600), [("a", "b")]),
            Self.request(25, verify, [("a", "b")]),
        ]
        let frames = try Self.decodeInSequence(bodies)
        guard case .request(let third) = frames[2], case .request(let fifth) = frames[4],
              case .request(let seventh) = frames[6], case .request(let ninth) = frames[8] else {
            Issue.record("not requests: \(frames)")
            return
        }
        #expect(third.metadata == ["authorization": credential + "x"])
        #expect(fifth.metadata.isEmpty)
        #expect(seventh.metadata == ["a": "bc"])
        #expect(ninth.metadata["authorization"] == big)
    }

    @Test("X15: a value in another Unicode spelling (NFD after NFC) is not taken for the kept one, though Swift's == calls them equal")
    func otherSpellingIsNotReused() throws {
        let nfc = "caf\u{E9}", nfd = "cafe\u{301}"
        var strings = RepeatedRequestParts()
        var values: [[UInt8]] = []
        for value in [nfc, nfd, nfd] {
            let body = Self.request(1, "/apikeys.v1.Keys/Verify", [("authorization", value)])
            let frame = try body.withUnsafeBytes { try FrameCodec.decode(body: $0, reusing: &strings) }
            guard case .request(let request) = frame else { Issue.record("not a request"); return }
            values.append(Array(try #require(request.metadata["authorization"]).utf8))
        }
        #expect(values == [Array(nfc.utf8), Array(nfd.utf8), Array(nfd.utf8)])
    }

    @Test("a request refused for invalid UTF-8 leaves the reuse intact for the next one")
    func refusedRequestBetweenRepeats() throws {
        var frame = RequestFrame(callID: 1, method: "/a.B/C")
        frame.metadata = ["k": "v"]
        let good = Array(FrameCodec.encode(.request(frame)).dropFirst(FrameCodec.lengthPrefixSize))
        var bad = good
        bad[try #require(bad.lastIndex(of: UInt8(ascii: "C")))] = 0x80  // a lone continuation byte
        var strings = RepeatedRequestParts()
        for body in [good, bad, good] {
            let reused = Result { try body.withUnsafeBytes { try FrameCodec.decode(body: $0, reusing: &strings) } }
            let fresh = Result { try decodeBody(body) }
            switch (reused, fresh) {
            case (.success(let a), .success(let b)): #expect(a == b)
            case (.failure(let a), .failure(let b)): #expect("\(a)" == "\(b)")
            default: Issue.record("reuse changed the outcome: \(reused) against \(fresh)")
            }
        }
    }

    @Test("a request's message bytes reuse the last message's array only when no one holds it: held messages keep their bytes")
    func messageBytesReuse() throws {
        func body(_ message: [UInt8]) -> [UInt8] {
            Array(FrameCodec.encode(.request(RequestFrame(callID: 1, method: "/a.B/C", message: message)))
                .dropFirst(FrameCodec.lengthPrefixSize))
        }
        var strings = RepeatedRequestParts()
        func message(_ bytes: [UInt8]) throws -> [UInt8] {
            let frame = try body(bytes).withUnsafeBytes { try FrameCodec.decode(body: $0, reusing: &strings) }
            guard case .request(let request) = frame else { throw WireError(code: .malformedFrame, message: "not a request") }
            return request.message
        }
        let large = [UInt8](repeating: 5, count: RepeatedRequestParts.maxKeptBytes + 1)
        // Each one held while the next is decoded, as a running call holds its request.
        let held = try [[1, 2, 3], [4, 5, 6], [], [7], large, [8, 9], large, [1, 2, 3]].map { try message($0) }
        #expect(held == [[1, 2, 3], [4, 5, 6], [], [7], large, [8, 9], large, [1, 2, 3]])
        // And one at a time, each dropped before the next (a synchronous call).
        for bytes in [[1, 2, 3], [4, 5], large, [6], []] as [[UInt8]] {
            #expect(try message(bytes) == bytes)
        }
        // The reuse happens: once no one holds the last message, the next one lands in its
        // storage (what saves the allocation per Verify).
        let address: (([UInt8]) -> UInt) = { $0.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) } }
        let before = address(try message([1, 2, 3, 4]))
        #expect(address(try message([5, 6, 7, 8])) == before)
    }

    @Test("a million repeats of one Verify request decode alike, into the same storage, keeping nothing more")
    func millionRepeats() throws {
        let body = Self.request(1, "/apikeys.v1.Verification/Verify", [("authorization", String(repeating: "k", count: 60))])
        let expected = try decodeBody(body)
        var parts = RepeatedRequestParts()
        var addresses = Set<UInt>()
        for _ in 0..<1_000_000 {
            let frame = try body.withUnsafeBytes { try FrameCodec.decode(body: $0, reusing: &parts) }
            guard case .request(let request) = frame else { Issue.record("not a request"); return }
            addresses.insert(request.message.withUnsafeBufferPointer { UInt(bitPattern: $0.baseAddress) })
            if addresses.count > 1 || frame != expected { Issue.record("repeat differs or moved: \(frame)"); return }
        }
        #expect(addresses.count == 1)
    }
}
