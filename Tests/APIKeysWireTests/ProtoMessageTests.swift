@testable import APIKeysWire
import Testing

@Suite("ProtoMessage: the generated messages over the C codec")
struct ProtoMessageTests {
    static func roundTrip<M: ProtoMessage>(_ message: M) throws -> M {
        try M(serializedBytes: message.serializedBytes())
    }

    static let keys = [
        APIKeysV1.ApiKey(id: "k_1", name: "CI deploy key", ownerID: "alice", updatedAtMs: 1_700_000_000_123, createdAtMs: 1_600_000_000_000,
               expiresAtMs: 1_800_000_000_000, status: .active, revokedAtMs: 0, lastUsedAtMs: 1_700_000_000_999,
               useCount: UInt64.max, tenantID: "acme"),
        APIKeysV1.ApiKey(id: "k_2", name: "ünïcødé 🔑", ownerID: "bob", status: .revoked, revokedAtMs: 5),
        APIKeysV1.ApiKey(),
        APIKeysV1.ApiKey(id: "k_neg", createdAtMs: -1, expiresAtMs: Int64.min, status: .expired),
    ]

    @Test("nested messages: ListKeysResponse with ApiKeys")
    func nestedMessages() throws {
        let message = APIKeysV1.ListKeysResponse(keys: Self.keys, nextPageToken: "page-2")
        #expect(try Self.roundTrip(message) == message)
        #expect(try Self.roundTrip(APIKeysV1.GenerateKeyResponse(key: Self.keys[0], secret: "ak_live_x")) == APIKeysV1.GenerateKeyResponse(key: Self.keys[0], secret: "ak_live_x"))
    }

    @Test("an empty sub-message stays set; an absent one stays nil")
    func subMessagePresence() throws {
        #expect(try Self.roundTrip(APIKeysV1.GetKeyResponse(key: APIKeysV1.ApiKey())).key == APIKeysV1.ApiKey())
        #expect(try Self.roundTrip(APIKeysV1.GetKeyResponse(key: nil)).key == nil)
        #expect(try Self.roundTrip(APIKeysV1.GetSettingsResponse(settings: APIKeysV1.TenantSettings())).settings == APIKeysV1.TenantSettings())
    }

    @Test("enums, booleans and integers at their edges")
    func scalars() throws {
        let request = APIKeysV1.ListKeysRequest(search: "ci", status: .expired, sortBy: .status, descending: true, pageSize: UInt32.max, pageToken: "t")
        #expect(try Self.roundTrip(request) == request)
        for sort in APIKeysV1.KeySortField.allCases {
            #expect(try Self.roundTrip(APIKeysV1.ListKeysRequest(sortBy: sort)).sortBy == sort)
        }
        let settings = APIKeysV1.TenantSettings(apiKeysEnabled: true, maxExpirySeconds: UInt64.max, maxKeysPerUser: UInt32.max,
                                      excessiveUsePerMinute: 1, updatedAtMs: Int64.min)
        #expect(try Self.roundTrip(settings) == settings)
        let echo = APIKeysV1.EchoRequest(statusCode: -5, statusMessage: "m", sleepMillis: 1, responseSize: 2, payload: [0], echoMetadata: true)
        #expect(try Self.roundTrip(echo) == echo)
    }

    @Test("bytes keep every byte value, NUL included")
    func bytesField() throws {
        let echo = APIKeysV1.EchoRequest(payload: Array(0...255) + [0, 0, 0])
        #expect(try Self.roundTrip(echo) == echo)
    }

    @Test("repeated strings: RevokeKeysRequest.keyIDs, with empty and repeated elements")
    func repeatedStrings() throws {
        let message = APIKeysV1.RevokeKeysRequest(keyIDs: ["k_1", "", "k_2", "k_1", "ключ"], reason: "leaked")
        #expect(try Self.roundTrip(message) == message)
        let principal = APIKeysV1.Principal(tenantID: "t", userID: "u", keyID: "k", roles: ["developer", "tenant_admin"], expiresAtMs: 3)
        #expect(try Self.roundTrip(principal) == principal)
    }

    @Test("repeated enums: User.roles, order and duplicates kept")
    func repeatedEnums() throws {
        let user = APIKeysV1.User(tenantID: "t", userID: "u", displayName: "U", roles: [.tenantAdmin, .developer, .tenantAdmin, .unspecified],
                        licensed: true, createdAtMs: 1)
        #expect(try Self.roundTrip(user) == user)
        #expect(try Self.roundTrip(APIKeysV1.ListUsersResponse(users: [user, APIKeysV1.User()])) == APIKeysV1.ListUsersResponse(users: [user, APIKeysV1.User()]))
    }

    @Test("maps: EchoResponse.metadata and Event.details")
    func maps() throws {
        let echo = APIKeysV1.EchoResponse(payload: [1], metadata: ["authorization": "Bearer x", "": "empty key", "k": "", "ü": "ß"], callsInFlight: 3)
        #expect(try Self.roundTrip(echo) == echo)
        let event = APIKeysV1.Event(id: 1, timeMs: 2, tenantID: "t", actor: "a", action: "key.revoke", keyID: "k", outcome: "ok",
                          details: Dictionary(uniqueKeysWithValues: (0..<50).map { ("d\($0)", "\($0)") }))
        #expect(try Self.roundTrip(event) == event)
        #expect(try Self.roundTrip(APIKeysV1.ListEventsResponse(events: [event, APIKeysV1.Event()], nextPageToken: "n")) == APIKeysV1.ListEventsResponse(events: [event, APIKeysV1.Event()], nextPageToken: "n"))
    }

    @Test("equal maps encode to equal bytes")
    func mapEncodingIsDeterministic() {
        let a = APIKeysV1.EchoResponse(metadata: Dictionary(uniqueKeysWithValues: (0..<20).map { ("k\($0)", "v") }))
        var b = APIKeysV1.EchoResponse()
        for i in (0..<20).reversed() { b.metadata["k\(i)"] = "v" }
        #expect(a.serializedBytes() == b.serializedBytes())
    }

    @Test("a repeated map key keeps the last value")
    func repeatedMapKey() throws {
        // APIKeysV1.EchoResponse{metadata{k: 1}, metadata{k: 2}}
        let entry1 = Wire.field(2, Wire.field(1, [0x6B]) + Wire.field(2, [0x31]))
        let entry2 = Wire.field(2, Wire.field(1, [0x6B]) + Wire.field(2, [0x32]))
        #expect(try APIKeysV1.EchoResponse(serializedBytes: entry1 + entry2).metadata == ["k": "2"])
    }

    @Test("multi-member oneof: GenerateKeyRequest.expiry, both cases, zero values, and unset",
          arguments: [APIKeysV1.GenerateKeyRequest.Expiry.expiresAtMs(1_900_000_000_000), .expiresAtMs(0), .expiresAtMs(-1),
                      .expiresInSeconds(3600), .expiresInSeconds(0), .expiresInSeconds(UInt64.max)])
    func multiMemberOneof(expiry: APIKeysV1.GenerateKeyRequest.Expiry) throws {
        #expect(try Self.roundTrip(APIKeysV1.GenerateKeyRequest(name: "n", expiry: expiry)).expiry == expiry)
    }

    @Test("multi-member oneof: unset stays nil; the last member on the wire wins")
    func oneofUnsetAndLastWins() throws {
        #expect(try Self.roundTrip(APIKeysV1.GenerateKeyRequest(name: "n")).expiry == nil)
        // expires_at_ms = 5, then expires_in_seconds = 7: the later member wins.
        #expect(try APIKeysV1.GenerateKeyRequest(serializedBytes: [0x10, 0x05, 0x18, 0x07]).expiry == .expiresInSeconds(7))
        #expect(try APIKeysV1.GenerateKeyRequest(serializedBytes: [0x18, 0x07, 0x10, 0x05]).expiry == .expiresAtMs(5))
    }

    @Test("single-member oneofs: UpdateSettingsRequest set to false or zero survives as set")
    func singleMemberOneofZero() throws {
        let zero = APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: false, maxExpirySeconds: 0, maxKeysPerUser: 0, excessiveUsePerMinute: 0)
        let bytes = zero.serializedBytes()
        #expect(bytes == [0x08, 0x00, 0x10, 0x00, 0x18, 0x00, 0x20, 0x00])
        let decoded = try APIKeysV1.UpdateSettingsRequest(serializedBytes: bytes)
        #expect(decoded.apiKeysEnabled == false)
        #expect(decoded.maxExpirySeconds == 0)
        #expect(decoded.maxKeysPerUser == 0)
        #expect(decoded.excessiveUsePerMinute == 0)
    }

    @Test("single-member oneofs: unset stays nil, set values survive")
    func singleMemberOneofUnset() throws {
        #expect(APIKeysV1.UpdateSettingsRequest().serializedBytes() == [])
        #expect(try APIKeysV1.UpdateSettingsRequest(serializedBytes: []) == APIKeysV1.UpdateSettingsRequest())
        let some = APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: true, maxKeysPerUser: 10)
        let decoded = try Self.roundTrip(some)
        #expect(decoded == some)
        #expect(decoded.maxExpirySeconds == nil)
        #expect(decoded.excessiveUsePerMinute == nil)
    }

    @Test("empty messages encode to no bytes and decode from none")
    func emptyMessages() throws {
        #expect(APIKeysV1.EmptyMessage().serializedBytes() == [])
        #expect(try APIKeysV1.EmptyMessage(serializedBytes: []) == APIKeysV1.EmptyMessage())
        #expect(APIKeysV1.HealthCheckRequest().serializedBytes() == [])
        #expect(APIKeysV1.ListKeysResponse().serializedBytes() == [])
        #expect(try APIKeysV1.ListKeysResponse(serializedBytes: []) == APIKeysV1.ListKeysResponse())
    }

    @Test("an unknown enum value reads as the zero value")
    func unknownEnumValue() throws {
        // APIKeysV1.ApiKey{status 99}, APIKeysV1.User{roles [1, 77]} (packed)
        #expect(try APIKeysV1.ApiKey(serializedBytes: [0x38, 99]).status == .unspecified)
        #expect(try APIKeysV1.User(serializedBytes: [0x22, 0x02, 0x01, 77]).roles == [.developer, .unspecified])
    }

    @Test("repeated enums are read both packed and unpacked")
    func packedAndUnpacked() throws {
        #expect(try APIKeysV1.User(serializedBytes: [0x20, 0x02, 0x20, 0x01]).roles == [.tenantAdmin, .developer])
        #expect(APIKeysV1.User(roles: [.developer, .tenantAdmin]).serializedBytes() == [0x22, 0x02, 0x01, 0x02])
    }

    @Test("unknown fields are skipped")
    func unknownFields() throws {
        let bytes = Wire.field(99, [1, 2, 3]) + APIKeysV1.VerifyRequest(secret: "s").serializedBytes() + [0xF8, 0x07, 0x01]
        #expect(try APIKeysV1.VerifyRequest(serializedBytes: bytes) == APIKeysV1.VerifyRequest(secret: "s"))
    }

    static let garbage: [[UInt8]] = [
        [0xFF],
        [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        [0x0A, 0x05, 0x61],  // string longer than the message
        [0x0F],  // wire type 7
        [0x0A],  // a tag and nothing else
        Array("not protobuf at all".utf8),
    ]

    @Test("garbage bytes are malformedMessage", arguments: garbage)
    func garbageBytes(bytes: [UInt8]) {
        #expect(throws: WireError(code: .malformedMessage, message: "")) { try APIKeysV1.VerifyRequest(serializedBytes: bytes) }
        #expect(throws: WireError(code: .malformedMessage, message: "")) { try APIKeysV1.ListKeysResponse(serializedBytes: bytes) }
    }

    @Test("garbage inside a nested message is malformedMessage")
    func nestedGarbage() {
        #expect(throws: WireError(code: .malformedMessage, message: "")) {
            try APIKeysV1.ListKeysResponse(serializedBytes: Wire.field(1, [0xFF, 0xFF]))
        }
    }

    @Test("a message of many tiny elements is refused as too complex, not decoded")
    func allocationBudget() {
        // ~1M empty ApiKeys: 2 bytes each on the wire, a whole struct each once unpacked.
        let bytes = Wire.repeated([0x0A, 0x00], count: 1_000_000)
        let error = #expect(throws: WireError.self) { try APIKeysV1.ListKeysResponse(serializedBytes: bytes) }
        #expect(error?.code == .messageTooComplex)
    }

    @Test("strings with NUL are encoded without it and do not crash")
    func nulInStrings() throws {
        let request = APIKeysV1.VerifyRequest(secret: "ab\0cd\0")
        let decoded = try Self.roundTrip(request)
        #expect(decoded.secret == "abcd")
        let revoke = try Self.roundTrip(APIKeysV1.RevokeKeysRequest(keyIDs: ["\0", "a\0b"]))
        #expect(revoke.keyIDs == ["", "ab"])
        let echo = try Self.roundTrip(APIKeysV1.EchoResponse(metadata: ["k\0": "v\0"]))
        #expect(echo.metadata == ["k": "v"])
    }

    @Test("a NUL inside a string on the wire is refused, never cut short")
    func nulOnTheWire() throws {
        // APIKeysV1.VerifyRequest{secret "a\0b"}
        #expect(throws: WireError(code: .malformedMessage, message: "")) {
            try APIKeysV1.VerifyRequest(serializedBytes: [0x0A, 0x03, 0x61, 0x00, 0x62])
        }
    }

    @Test("invalid UTF-8, overlong forms and surrogates in a string are refused", arguments: [
        [0x61, 0xFF, 0x62], [0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82],
    ] as [[UInt8]])
    func invalidUTF8(_ string: [UInt8]) throws {
        #expect(throws: WireError(code: .malformedMessage, message: "")) {
            try APIKeysV1.VerifyRequest(serializedBytes: [0x0A, UInt8(string.count)] + string)
        }
    }

    @Test("valid UTF-8 of every length decodes", arguments: ["a", "é", "☺", "😈", "a☺😈é"])
    func validUTF8(_ string: String) throws {
        #expect(try APIKeysV1.VerifyRequest(serializedBytes: APIKeysV1.VerifyRequest(secret: string).serializedBytes()).secret == string)
    }

    /// The C prescan checks eight ASCII bytes at a time: a NUL or a bad byte must be caught at
    /// every offset of a long string, in and after the fast part, and valid text after it kept.
    @Test("a NUL or a bad byte at any offset of a long ASCII string is refused", arguments: 0..<40)
    func badByteAtEveryOffset(_ offset: Int) throws {
        for bad: [UInt8] in [[0x00], [0xFF], [0xC0, 0x80], [0xE2, 0x82]] {
            var string = [UInt8](repeating: UInt8(ascii: "k"), count: 40)
            string.replaceSubrange(offset..<min(40, offset + bad.count), with: bad)
            #expect(throws: WireError(code: .malformedMessage, message: "")) {
                try APIKeysV1.VerifyRequest(serializedBytes: [0x0A, UInt8(string.count)] + string)
            }
        }
        let valid = String(repeating: "k", count: offset) + "é😈" + String(repeating: "z", count: 40 - offset)
        #expect(try APIKeysV1.VerifyRequest(serializedBytes: APIKeysV1.VerifyRequest(secret: valid).serializedBytes()).secret == valid)
    }

    @Test("a bad string inside a nested message or map entry is refused too")
    func nestedBadString() throws {
        // APIKeysV1.EchoResponse{metadata {key "k" value "\xFF"}}
        #expect(throws: WireError(code: .malformedMessage, message: "")) {
            try APIKeysV1.EchoResponse(serializedBytes: [0x12, 0x06, 0x0A, 0x01, 0x6B, 0x12, 0x01, 0xFF])
        }
    }

    @Test("RPCError details carry an ErrorDetails")
    func errorDetails() throws {
        let error = RPCError(code: .permissionDenied, message: "no", rule: "R17", reason: "no_license")
        #expect(error.errorDetails == APIKeysV1.ErrorDetails(rule: "R17", reason: "no_license"))
        #expect(RPCError(code: .internal, message: "x").errorDetails == nil)
    }
}
