import APIKeysWire
import Testing
@testable import apikeys

/// `apikeys call --describe` and the request errors, without a server (issue 12).
@Suite("apikeys call: descriptions and request errors (issue 12)")
struct CallCatalogTests {
    @Test("issue 12: a message reads as a .proto message with JSON names; notes say the rest")
    func messageText() throws {
        let request = try ProtoSchema.method(named: "Keys/Generate").input
        #expect(CallCatalog.messageText(request) == """
            message apikeys.v1.GenerateKeyRequest {
              string name = 1;
              int64 expiresAtMs = 2;        // expires_at_ms; oneof with expiresInSeconds; a string in JSON
              uint64 expiresInSeconds = 3;  // expires_in_seconds; oneof with expiresAtMs; a string in JSON
            }
            """)
        let event = try ProtoSchema.messageType(matching: "Event")
        #expect(CallCatalog.messageText(event).contains("  map<string, string> details = 8;"))
        let revoke = try ProtoSchema.messageType(matching: "RevokeKeysRequest")
        #expect(CallCatalog.messageText(revoke).contains("  repeated string keyIds = 1;  // key_ids"))
    }

    @Test("issue 12: --describe reaches every type and enum a method uses, each once")
    func reachable() throws {
        let method = try ProtoSchema.method(named: "Keys/List")
        let (types, enums) = CallCatalog.reachable(from: [method.input, method.output])
        #expect(types.map(\.name) == ["apikeys.v1.ListKeysRequest", "apikeys.v1.ListKeysResponse", "apikeys.v1.ApiKey"])
        #expect(enums.map(\.name) == ["apikeys.v1.KeyStatus", "apikeys.v1.KeySortField"])
    }

    @Test("issue 12: a request that cannot be encoded is a usage error saying where")
    func requestErrors() {
        func failure(_ json: String, _ method: String = "Keys/Generate") -> CLIFailure? {
            do {
                _ = try CallCommand.encode(Array(json.utf8), as: ProtoSchema.method(named: method).input)
                return nil
            } catch {
                return error as? CLIFailure
            }
        }
        #expect(failure(#"{"name": }"#)?.line == "error: the request: invalid JSON at line 1, column 10: expected a value (object, array, string, number, true, false or null)")
        #expect(failure(#"{"name": 1}"#)?.line == "error: the request, at name: expected a string (string), found a number")
        #expect(failure(#"{"name": 1}"#)?.exitStatus == ExitStatus.usage)
        #expect(failure(#"{"name": "ci"}"#) == nil)
    }
}
