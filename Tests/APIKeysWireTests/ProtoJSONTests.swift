import APIKeysWire
import Testing

/// protobuf's JSON mapping over the C descriptors (issue 12, `apikeys call`): every field
/// kind of proto/ both ways, checked against hand-encoded protobuf bytes where it matters.
@Suite("ProtoJSON: protobuf's JSON mapping from the descriptors (issue 12)")
struct ProtoJSONTests {
    static func type(_ name: String) -> ProtoMessageType {
        guard let type = ProtoSchema.messageType(named: "apikeys.v1." + name) else {
            fatalError("apikeys.v1.\(name) is not in the schema")
        }
        return type
    }

    static func encode(_ json: String, as name: String) throws -> [UInt8] {
        try ProtoJSON.encode(JSONValue.parse(Array(json.utf8)), as: type(name))
    }

    static func decode(_ bytes: [UInt8], as name: String, emitDefaults: Bool = false) throws -> String {
        try ProtoJSON.decode(bytes, as: type(name), emitDefaults: emitDefaults).rendered()
    }

    /// JSON in, bytes, JSON out: the canonical form of `json`.
    static func roundTrip(_ json: String, as name: String) throws -> String {
        try decode(encode(json, as: name), as: name)
    }

    static func error(_ json: String, as name: String) -> String {
        do {
            _ = try encode(json, as: name)
            return "no error"
        } catch {
            return "\(error)"
        }
    }

    @Test("issue 12: a string field encodes to its protobuf bytes and back")
    func string() throws {
        // Field 1, wire type 2 (0x0A), length 1, "x".
        #expect(try Self.encode(#"{"name": "x"}"#, as: "GenerateKeyRequest") == [0x0A, 0x01, 0x78])
        #expect(try Self.decode([0x0A, 0x01, 0x78], as: "GenerateKeyRequest") == "{\n  \"name\": \"x\"\n}")
        let text = #"{"name": "naïve 🔑 \"quoted\"\n"}"#
        #expect(try Self.roundTrip(text, as: "GenerateKeyRequest") == "{\n  \"name\": \"naïve 🔑 \\\"quoted\\\"\\n\"\n}")
    }

    @Test("issue 12: int64 and uint64 are read as numbers or strings and written as strings, with no precision lost")
    func sixtyFourBit() throws {
        let asString = try Self.encode(#"{"useCount": "18446744073709551615", "createdAtMs": "-5"}"#, as: "ApiKey")
        let asNumber = try Self.encode(#"{"useCount": 18446744073709551615, "createdAtMs": -5}"#, as: "ApiKey")
        #expect(asString == asNumber)
        // created_at_ms = 5 (tag 0x28): -5 as a ten-byte varint; use_count = 10 (tag 0x50): 2^64-1.
        #expect(asString == [0x28, 0xFB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
                             0x50, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        #expect(try Self.decode(asString, as: "ApiKey") == """
            {
              "createdAtMs": "-5",
              "useCount": "18446744073709551615"
            }
            """)
        // 2^53 + 1 would be rounded by a Double; the text is kept.
        #expect(try Self.roundTrip(#"{"expiresAtMs": 9007199254740993}"#, as: "ApiKey") == "{\n  \"expiresAtMs\": \"9007199254740993\"\n}")
        #expect(try Self.roundTrip(#"{"expiresAtMs": 1.7e12}"#, as: "ApiKey") == "{\n  \"expiresAtMs\": \"1700000000000\"\n}")
    }

    @Test("issue 12: int32 and uint32 are numbers, range-checked")
    func thirtyTwoBit() throws {
        #expect(try Self.roundTrip(#"{"statusCode": -3, "sleepMillis": 4294967295}"#, as: "EchoRequest")
            == "{\n  \"statusCode\": -3,\n  \"sleepMillis\": 4294967295\n}")
        #expect(try Self.roundTrip(#"{"pageSize": "20"}"#, as: "ListKeysRequest") == "{\n  \"pageSize\": 20\n}")
        #expect(Self.error(#"{"pageSize": 4294967296}"#, as: "ListKeysRequest")
            == #"pageSize: "4294967296" is not a whole number in the range of uint32"#)
        #expect(Self.error(#"{"pageSize": -1}"#, as: "ListKeysRequest")
            == #"pageSize: "-1" is not a whole number in the range of uint32"#)
        #expect(Self.error(#"{"statusCode": 2147483648}"#, as: "EchoRequest")
            == #"statusCode: "2147483648" is not a whole number in the range of int32"#)
        #expect(Self.error(#"{"pageSize": 1.5}"#, as: "ListKeysRequest")
            == #"pageSize: "1.5" is not a whole number in the range of uint32"#)
    }

    @Test("issue 12: bool is true or false; a default false is left out, a oneof member's false is not")
    func bool() throws {
        #expect(try Self.roundTrip(#"{"descending": true}"#, as: "ListKeysRequest") == "{\n  \"descending\": true\n}")
        #expect(try Self.roundTrip(#"{"descending": false}"#, as: "ListKeysRequest") == "{}")
        // A one-member oneof stands for proto3 `optional`: "set to false" must reach the server.
        let update = try Self.encode(#"{"apiKeysEnabled": false}"#, as: "UpdateSettingsRequest")
        #expect(update == [0x08, 0x00])
        #expect(try Self.decode(update, as: "UpdateSettingsRequest") == "{\n  \"apiKeysEnabled\": false\n}")
        #expect(Self.error(#"{"descending": "yes"}"#, as: "ListKeysRequest")
            == "descending: expected true or false (bool), found a string")
    }

    @Test("issue 12: enums by name or number; unknown numbers kept, unknown names refused with the values")
    func enums() throws {
        let byName = try Self.encode(#"{"status": "KEY_STATUS_REVOKED", "sortBy": "KEY_SORT_FIELD_NAME"}"#, as: "ListKeysRequest")
        #expect(byName == [0x10, 0x03, 0x18, 0x01])
        #expect(try Self.encode(#"{"status": 3, "sortBy": 1}"#, as: "ListKeysRequest") == byName)
        #expect(try Self.decode(byName, as: "ListKeysRequest")
            == "{\n  \"status\": \"KEY_STATUS_REVOKED\",\n  \"sortBy\": \"KEY_SORT_FIELD_NAME\"\n}")
        #expect(try Self.decode([0x10, 0x2A], as: "ListKeysRequest") == "{\n  \"status\": 42\n}")
        #expect(Self.error(#"{"status": "KEY_STATUS_REVOKD"}"#, as: "ListKeysRequest") == """
            status: "KEY_STATUS_REVOKD" is not a value of apikeys.v1.KeyStatus (did you mean "KEY_STATUS_REVOKED"?); \
            its values: KEY_STATUS_UNSPECIFIED, KEY_STATUS_ACTIVE, KEY_STATUS_EXPIRED, KEY_STATUS_REVOKED
            """)
        #expect(Self.error(#"{"status": true}"#, as: "ListKeysRequest")
            == "status: expected a name or number of apikeys.v1.KeyStatus, found a boolean")
    }

    @Test("issue 12: bytes are base64, read in either alphabet, written standard and padded")
    func bytes() throws {
        let standard = try Self.encode(#"{"payload": "AAEC/w=="}"#, as: "EchoRequest")
        // payload = 5 (tag 0x2A), 4 bytes; a NUL is fine in bytes.
        #expect(standard == [0x2A, 0x04, 0x00, 0x01, 0x02, 0xFF])
        #expect(try Self.encode(#"{"payload": "AAEC_w"}"#, as: "EchoRequest") == standard)
        #expect(try Self.decode(standard, as: "EchoRequest") == "{\n  \"payload\": \"AAEC/w==\"\n}")
        #expect(try Self.roundTrip(#"{"payload": "YWI="}"#, as: "EchoRequest") == "{\n  \"payload\": \"YWI=\"\n}")
        #expect(Self.error(#"{"payload": "not base64!"}"#, as: "EchoRequest")
            == "payload: expected base64 (bytes), found a string that is not base64")
    }

    @Test("issue 12: repeated fields are arrays; a wrong element is named by its index")
    func repeated() throws {
        let bytes = try Self.encode(#"{"keyIds": ["a", "b"], "reason": "r"}"#, as: "RevokeKeysRequest")
        #expect(bytes == [0x0A, 0x01, 0x61, 0x0A, 0x01, 0x62, 0x12, 0x01, 0x72])
        #expect(try Self.decode(bytes, as: "RevokeKeysRequest") == """
            {
              "keyIds": [
                "a",
                "b"
              ],
              "reason": "r"
            }
            """)
        #expect(Self.error(#"{"keyIds": ["a", 7]}"#, as: "RevokeKeysRequest")
            == "keyIds[1]: expected a string (string), found a number")
        #expect(Self.error(#"{"keyIds": "a"}"#, as: "RevokeKeysRequest")
            == "keyIds: expected an array (repeated string), found a string")
    }

    @Test("issue 12: nested and repeated messages, with paths into them")
    func nested() throws {
        let json = """
            {
              "keys": [
                {
                  "id": "k1",
                  "status": "KEY_STATUS_ACTIVE",
                  "useCount": "3"
                },
                {
                  "id": "k2",
                  "name": "second"
                }
              ],
              "nextPageToken": "t"
            }
            """
        #expect(try Self.roundTrip(json, as: "ListKeysResponse") == json)
        #expect(try Self.roundTrip(#"{"key": {}, "secret": "s"}"#, as: "GenerateKeyResponse")
            == "{\n  \"key\": {},\n  \"secret\": \"s\"\n}")
        #expect(Self.error(#"{"keys": [{"id": "k"}, {"useCount": true}]}"#, as: "ListKeysResponse")
            == "keys[1].useCount: expected a number or a string of digits (uint64), found a boolean")
        #expect(Self.error(#"{"key": "k"}"#, as: "GenerateKeyResponse")
            == "key: expected an object (apikeys.v1.ApiKey), found a string")
    }

    @Test("issue 12: maps are objects; a oneof of messages holds one of them")
    func mapsAndOneofs() throws {
        let details = try Self.roundTrip(#"{"id": "9", "details": {"b": "2", "a": "1"}}"#, as: "Event")
        #expect(details == "{\n  \"id\": \"9\",\n  \"details\": {\n    \"b\": \"2\",\n    \"a\": \"1\"\n  }\n}")
        let frame = """
            {
              "request": {
                "callId": "7",
                "method": "/apikeys.v1.Keys/Get",
                "metadata": {
                  "authorization": "Bearer x"
                },
                "message": "CgFr"
              }
            }
            """
        #expect(try Self.roundTrip(frame, as: "Frame") == frame)
        #expect(Self.error(#"{"request": {}, "ping": {}}"#, as: "Frame")
            == "ping: request and ping are members of one oneof of apikeys.v1.Frame: set one of them")
        #expect(Self.error(#"{"expiresAtMs": 1, "expires_in_seconds": 2}"#, as: "GenerateKeyRequest")
            == "expires_in_seconds: expiresAtMs and expires_in_seconds are members of one oneof of apikeys.v1.GenerateKeyRequest: set one of them")
        #expect(Self.error(#"{"details": ["a"]}"#, as: "Event") == "details: expected an object (a map), found an array")
    }

    @Test("issue 12: .proto names are accepted beside JSON names, but not both for one field")
    func protoNames() throws {
        #expect(try Self.encode(#"{"expires_at_ms": 5}"#, as: "GenerateKeyRequest")
            == Self.encode(#"{"expiresAtMs": 5}"#, as: "GenerateKeyRequest"))
        #expect(Self.error(#"{"expiresAtMs": 5, "expires_at_ms": 5}"#, as: "GenerateKeyRequest")
            == "expires_at_ms: field expiresAtMs is given twice (as expiresAtMs and expires_at_ms)")
    }

    @Test("issue 12: an unknown field is named with its message type and the fields it has")
    func unknownField() {
        #expect(Self.error(#"{"nmae": "x"}"#, as: "GenerateKeyRequest") == """
            apikeys.v1.GenerateKeyRequest has no field "nmae" (did you mean "name"?); its fields: name, expiresAtMs, expiresInSeconds
            """)
        #expect(Self.error(#"{"key": {"colour": 1}}"#, as: "GenerateKeyResponse").hasPrefix(
            #"key: apikeys.v1.ApiKey has no field "colour"; its fields: id, name, ownerId,"#))
        #expect(Self.error(#"{"x": 1}"#, as: "DeleteKeyResponse")
            == #"apikeys.v1.DeleteKeyResponse has no field "x"; it has no fields"#)
    }

    @Test("issue 12: null means not set; an empty or null document is an empty message")
    func nulls() throws {
        #expect(try Self.encode("null", as: "GenerateKeyRequest") == [])
        #expect(try Self.encode("{}", as: "GenerateKeyRequest") == [])
        #expect(try Self.encode(#"{"name": null, "expiresAtMs": null, "expiresInSeconds": 3}"#, as: "GenerateKeyRequest")
            == [0x18, 0x03])
        #expect(Self.error(#"{"keyIds": [null]}"#, as: "RevokeKeysRequest")
            == "keyIds[0]: null is not a value of repeated string")
        #expect(Self.error("[1]", as: "GenerateKeyRequest")
            == "expected an object (apikeys.v1.GenerateKeyRequest), found an array")
    }

    @Test("issue 12: --emit-defaults writes every scalar, repeated and map field")
    func emitDefaults() throws {
        let text = try Self.decode([], as: "RevokeKeyResult", emitDefaults: true)
        #expect(text == """
            {
              "keyId": "",
              "outcome": "REVOKE_OUTCOME_UNSPECIFIED",
              "message": ""
            }
            """)
        #expect(try Self.decode([], as: "ListKeysResponse", emitDefaults: true)
            == "{\n  \"keys\": [],\n  \"nextPageToken\": \"\"\n}")
        #expect(try Self.decode([], as: "ApiKey", emitDefaults: true).contains(#""useCount": "0""#))
    }

    @Test("issue 12: a NUL in a string is refused with a clear error; protobuf-c strings cannot hold one")
    func nul() {
        #expect(Self.error(#"{"name": "a\u0000b"}"#, as: "GenerateKeyRequest")
            == #"name: a string cannot hold a NUL character (\u0000)"#)
    }

    @Test("issue 12: bytes that are not the message are an error, not a crash")
    func malformed() {
        #expect(throws: ProtoJSONError.self) { try Self.decode([0x0A, 0x05, 0x61], as: "GenerateKeyRequest") }
        #expect(throws: ProtoJSONError.self) { try Self.decode([0xFF, 0xFF, 0xFF], as: "ApiKey") }
        // A string field holding a NUL byte: refused on decode as everywhere in the codec.
        #expect(throws: ProtoJSONError.self) { try Self.decode([0x0A, 0x01, 0x00], as: "GenerateKeyRequest") }
    }
}
