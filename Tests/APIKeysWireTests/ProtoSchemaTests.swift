import APIKeysWire
import Foundation
import Testing

/// The schema read from protoc-c's descriptors at run time (issue 12, `apikeys call`),
/// checked against the .proto files themselves.
@Suite("ProtoSchema: services, methods and fields from the descriptors (issue 12)")
struct ProtoSchemaTests {
    /// `service S { rpc M(Req) returns (Resp) ... }` of every file of proto/apikeys/v1, read as text.
    static func rpcsInProtoFiles() throws -> [String] {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../proto/apikeys/v1").standardized
        var rpcs: [String] = []
        for file in try FileManager.default.contentsOfDirectory(atPath: directory.path) where file.hasSuffix(".proto") {
            let text = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            var service = ""
            for line in text.split(separator: "\n").map({ $0.trimmingCharacters(in: .whitespaces) }) {
                let words = line.split(whereSeparator: { " (){};".contains($0) }).map(String.init)
                if words.first == "service", words.count > 1 { service = words[1] }
                if words.first == "rpc", words.count >= 5 {
                    rpcs.append("/apikeys.v1.\(service)/\(words[1]) apikeys.v1.\(words[2]) apikeys.v1.\(words[4])")
                }
            }
        }
        return rpcs.sorted()
    }

    @Test("issue 12: every rpc of proto/ is a method, with its request and response types, and nothing else")
    func everyMethod() throws {
        let fromDescriptors = ProtoSchema.methods.map { "\($0.path) \($0.input.name) \($0.output.name)" }.sorted()
        let fromFiles = try Self.rpcsInProtoFiles()
        #expect(fromFiles.count >= 24)
        #expect(fromDescriptors == fromFiles)
        #expect(ProtoSchema.services.map(\.name).contains("apikeys.v1.Keys"))
    }

    @Test("issue 12: METHOD in its four forms, any case when unambiguous")
    func methodForms() throws {
        for form in ["/apikeys.v1.Keys/Generate", "apikeys.v1.Keys/Generate", "Keys/Generate", "Keys.Generate",
                     "apikeys.v1.Keys.Generate", "keys/generate"] {
            #expect(try ProtoSchema.method(named: form).path == "/apikeys.v1.Keys/Generate", "\(form)")
        }
        #expect(try ProtoSchema.method(named: "Verification/Verify").input.name == "apikeys.v1.VerifyRequest")
        #expect(try ProtoSchema.method(named: "Events.List").output.name == "apikeys.v1.ListEventsResponse")
    }

    @Test("issue 12: a mistyped method gets the nearest methods")
    func methodTypos() {
        func message(_ name: String) -> String {
            do {
                _ = try ProtoSchema.method(named: name)
                return "found"
            } catch {
                return error.message
            }
        }
        #expect(message("Keys/Generat") == "no method Keys/Generat (did you mean Keys/Generate?)")
        #expect(message("Key/Generate") == "no method Key/Generate (did you mean Keys/Generate?)")
        #expect(message("/apikeys.v1.Keys/Verify") == "no method /apikeys.v1.Keys/Verify (did you mean Verification/Verify?)")
        #expect(message("Generate") == "no method Generate (did you mean Keys/Generate?)")
        #expect(message("Nothing/Here") == "no method Nothing/Here; apikeys call --list shows them all")
    }

    @Test("issue 12: message types by full or short name")
    func messageTypes() throws {
        #expect(try ProtoSchema.messageType(matching: "ApiKey").name == "apikeys.v1.ApiKey")
        #expect(try ProtoSchema.messageType(matching: "apikeys.v1.ApiKey").name == "apikeys.v1.ApiKey")
        #expect(try ProtoSchema.messageType(matching: "Event.DetailsEntry").name == "apikeys.v1.Event.DetailsEntry")
        #expect(throws: ProtoSchemaError.self) { try ProtoSchema.messageType(matching: "ApiKee") }
        #expect(ProtoSchema.messageTypes.count >= 70)
    }

    @Test("issue 12: fields carry JSON names, types, labels, oneofs, maps and enum values")
    func fields() throws {
        let request = try ProtoSchema.method(named: "Keys/Generate").input
        #expect(request.fields.map(\.jsonName) == ["name", "expiresAtMs", "expiresInSeconds"])
        #expect(request.fields.map(\.name) == ["name", "expires_at_ms", "expires_in_seconds"])
        #expect(request.fields.map(\.type) == [.string, .int64, .uint64])
        #expect(request.fields[0].oneof == 0)
        #expect(request.fields[1].oneof != 0 && request.fields[1].oneof == request.fields[2].oneof)

        let event = try ProtoSchema.messageType(matching: "Event")
        let details = try #require(event.field(named: "details"))
        #expect(details.isMap && details.isRepeated && details.number == 8)
        #expect(event.fields.filter(\.isMap).count == 1)

        let revoke = try ProtoSchema.messageType(matching: "RevokeKeysRequest")
        #expect(revoke.field(named: "key_ids")?.isRepeated == true)
        #expect(revoke.field(named: "keyIds")?.isMap == false)

        let status = try #require(ProtoSchema.messageType(matching: "ListKeysRequest").field(named: "status")?.enumType)
        #expect(status.name == "apikeys.v1.KeyStatus")
        #expect(status.values.map(\.name) == ["KEY_STATUS_UNSPECIFIED", "KEY_STATUS_ACTIVE", "KEY_STATUS_EXPIRED", "KEY_STATUS_REVOKED"])
        #expect(status.values.map(\.number) == [0, 1, 2, 3])

        let response = try ProtoSchema.method(named: "Keys/List").output
        #expect(response.field(named: "keys")?.messageType?.name == "apikeys.v1.ApiKey")
    }
}
