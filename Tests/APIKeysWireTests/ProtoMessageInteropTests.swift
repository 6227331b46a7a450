@testable import APIKeysWire
import Foundation
import Testing

/// Cross-checks the C codec against a second protobuf implementation: the Python
/// `protobuf` package with the generated modules of clients/python.
@Suite("ProtoMessage against Python protobuf")
struct ProtoMessageInteropTests {
    /// Parses each input line `<full name> <hex>`, drops unknown fields with a JSON round
    /// trip, and prints the deterministic re-serialization. Then prints messages that
    /// Python builds itself, as `PY <label> <hex>`.
    static let script = #"""
import sys
sys.path.insert(0, sys.argv[1])
from google.protobuf import json_format
from apikeys.v1 import conformance_pb2, directory_pb2, events_pb2, frame_pb2, health_pb2, keys_pb2, settings_pb2, verification_pb2
classes = {}
for module in (conformance_pb2, directory_pb2, events_pb2, frame_pb2, health_pb2, keys_pb2, settings_pb2, verification_pb2):
    for name in module.DESCRIPTOR.message_types_by_name:
        classes["apikeys.v1." + name] = getattr(module, name)
for line in open(sys.argv[2]):
    parts = line.split()
    cls = classes[parts[0]]
    message = cls.FromString(bytes.fromhex(parts[1] if len(parts) > 1 else ""))
    clean = json_format.Parse(json_format.MessageToJson(message), cls())
    print(clean.SerializeToString(deterministic=True).hex())
built = {
    "keys": keys_pb2.ListKeysResponse(keys=[keys_pb2.ApiKey(id="k_1", name="n", status=keys_pb2.KEY_STATUS_REVOKED,
                                                           use_count=2**64 - 1, created_at_ms=-1), keys_pb2.ApiKey()],
                                      next_page_token="p"),
    "user": directory_pb2.User(user_id="u", roles=[directory_pb2.ROLE_TENANT_ADMIN, directory_pb2.ROLE_DEVELOPER], licensed=True),
    "settings": settings_pb2.UpdateSettingsRequest(api_keys_enabled=False, max_keys_per_user=0),
    "generate": keys_pb2.GenerateKeyRequest(name="n", expires_in_seconds=0),
    "revoke": keys_pb2.RevokeKeysRequest(key_ids=["a", "", "b"], reason="r"),
    "echo": conformance_pb2.EchoResponse(payload=b"\x00\xff", metadata={"b": "2", "a": "1"}, calls_in_flight=4),
    "request": frame_pb2.Frame(request=frame_pb2.Request(call_id=5, method="/a.B/C", metadata={"x": "y", "authorization": "Bearer z"},
                                                         timeout_micros=7, message=b"\x01")),
    "response": frame_pb2.Frame(response=frame_pb2.Response(call_id=6, status=frame_pb2.Status(
        code=frame_pb2.PERMISSION_DENIED, message="m", details=b"\x0a\x01R"))),
    "settingsFrame": frame_pb2.Frame(settings=frame_pb2.ServerSettings(protocol_version=1, max_frame_size=4194304, server="s")),
}
for label, message in built.items():
    print("PY", label, message.SerializeToString(deterministic=True).hex())
"""#

    static var protoDirectory: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("clients/python/apikeys_client/proto").path
    }

    struct PythonOutput {
        var reserialized: [[UInt8]] = []
        var built: [String: [UInt8]] = [:]
    }

    /// Runs the script over `(full name, bytes)` inputs.
    static func runPython(_ inputs: [(String, [UInt8])]) throws -> PythonOutput {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent("wiretests-\(UUID().uuidString).txt")
        try inputs.map { "\($0.0) \(Wire.hex($0.1))\n" }.joined().write(to: input, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: input) }

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, protoDirectory, input.path]
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "python3 failed: \(String(decoding: err, as: UTF8.self))")

        var output = PythonOutput()
        for line in String(decoding: out, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            let fields = line.split(separator: " ", omittingEmptySubsequences: false)
            if fields.first == "PY" {
                output.built[String(fields[1])] = Wire.bytes(String(fields[2]))
            } else {
                output.reserialized.append(Wire.bytes(String(line)))
            }
        }
        return output
    }

    /// A message Swift encodes: its name, its bytes, whether the bytes must match Python's
    /// exactly (not with maps: Python orders map entries its own way and always writes
    /// both key and value), and a check that Python's bytes decode to the same value.
    struct Entry: Sendable {
        var name: String
        var bytes: [UInt8]
        var exactBytes: Bool
        var decodesToSame: @Sendable ([UInt8]) throws -> Bool
    }

    static func entry<M: ProtoMessage>(_ message: M, exactBytes: Bool = true) -> Entry {
        Entry(name: M.protoName, bytes: message.serializedBytes(), exactBytes: exactBytes,
              decodesToSame: { try M(serializedBytes: $0) == message })
    }

    static let swiftMessages: [Entry] = [
        entry(APIKeysV1.ListKeysResponse(keys: ProtoMessageTests.keys, nextPageToken: "page-2")),
        entry(APIKeysV1.GenerateKeyRequest(name: "n", expiry: .expiresAtMs(0))),
        entry(APIKeysV1.GenerateKeyRequest(name: "n", expiry: .expiresInSeconds(86_400))),
        entry(APIKeysV1.GenerateKeyRequest(name: "n")),
        entry(APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: false, maxExpirySeconds: 0, maxKeysPerUser: 0, excessiveUsePerMinute: 0)),
        entry(APIKeysV1.UpdateSettingsRequest(maxExpirySeconds: UInt64.max)),
        entry(APIKeysV1.RevokeKeysRequest(keyIDs: ["k_1", "", "ключ"], reason: "leaked")),
        entry(APIKeysV1.User(tenantID: "t", userID: "u", roles: [.tenantAdmin, .developer, .tenantAdmin], licensed: true, createdAtMs: -5)),
        entry(APIKeysV1.EchoResponse(payload: Array(0...255), metadata: ["authorization": "Bearer x", "a": "", "": "z", "z": "ü"], callsInFlight: 7),
              exactBytes: false),
        entry(APIKeysV1.Event(id: UInt64.max, timeMs: 1, tenantID: "t", action: "key.create", details: ["b": "2", "a": "1", "c": "3"]),
              exactBytes: false),
        entry(APIKeysV1.EchoRequest(statusCode: -3, statusMessage: "s", sleepMillis: 1, responseSize: 2, payload: [0], echoMetadata: true)),
        entry(APIKeysV1.TenantSettings(apiKeysEnabled: true, maxExpirySeconds: 1, maxKeysPerUser: 2, excessiveUsePerMinute: 3, updatedAtMs: 4)),
        entry(APIKeysV1.VerifyResponse(principal: APIKeysV1.Principal(tenantID: "t", userID: "u", keyID: "k", roles: ["developer"], expiresAtMs: 9))),
        entry(APIKeysV1.HealthCheckResponse(status: .notServing, version: "1.0")),
        entry(APIKeysV1.ErrorDetails(rule: "R17", reason: "no_license")),
        entry(APIKeysV1.EmptyMessage()),
    ]

    static let swiftFrames: [Frame] = [
        .request(RequestFrame(callID: 3, method: "/apikeys.v1.Keys/List",
                              metadata: Dictionary(uniqueKeysWithValues: (0..<20).map { ("k\($0)", "v\($0)") }),
                              timeoutMicros: 99, message: [0, 1, 2])),
        .response(ResponseFrame(callID: 4, code: .failedPrecondition, statusMessage: "disabled",
                                details: APIKeysV1.ErrorDetails(rule: "R2", reason: "disabled").serializedBytes(), message: [])),
        .response(ResponseFrame(callID: 5, message: [7])),
        .cancel(callID: 8), .ping(UInt64.max), .pong(1),
        .goAway(GoAwayFrame(lastCallID: 9, reason: .keepaliveTimeout, message: "k")),
        .settings(ServerSettings(maxFrameSize: 1, maxConcurrentCalls: 2, idleTimeoutMillis: 3, keepaliveIntervalMillis: 4, server: "x")),
    ]

    static func body(_ frame: Frame) -> [UInt8] { Array(FrameCodec.encode(frame).dropFirst(FrameCodec.lengthPrefixSize)) }

    @Test("Python parses what Swift encodes, with no unknown field, and re-encodes the same bytes; Swift decodes what Python encodes")
    func crossCheck() throws {
        let frameInputs = Self.swiftFrames.map { ("apikeys.v1.Frame", Self.body($0)) }
        let python = try Self.runPython(Self.swiftMessages.map { ($0.name, $0.bytes) } + frameInputs)
        try #require(python.reserialized.count == Self.swiftMessages.count + Self.swiftFrames.count)

        for (index, entry) in Self.swiftMessages.enumerated() {
            // Python's JSON round trip dropped any field it did not know, so equal values
            // mean Python read every field Swift wrote.
            #expect(try entry.decodesToSame(python.reserialized[index]), "\(entry.name)")
            if entry.exactBytes {
                #expect(Wire.hex(python.reserialized[index]) == Wire.hex(entry.bytes), "\(entry.name)")
            }
        }
        for (index, frame) in Self.swiftFrames.enumerated() {
            // FrameCodec writes metadata in dictionary order; compare values, not bytes.
            #expect(try decodeBody(python.reserialized[Self.swiftMessages.count + index]) == frame)
        }

        func expectBuilt<M: ProtoMessage>(_ label: String, _ expected: M, exactBytes: Bool = true) throws {
            let bytes = try #require(python.built[label], "python built no \(label)")
            #expect(try M(serializedBytes: bytes) == expected, "\(label)")
            if exactBytes {
                #expect(Wire.hex(expected.serializedBytes()) == Wire.hex(bytes), "\(label)")
            }
        }
        try expectBuilt("keys", APIKeysV1.ListKeysResponse(keys: [APIKeysV1.ApiKey(id: "k_1", name: "n", createdAtMs: -1, status: .revoked, useCount: UInt64.max), APIKeysV1.ApiKey()],
                                                 nextPageToken: "p"))
        try expectBuilt("user", APIKeysV1.User(userID: "u", roles: [.tenantAdmin, .developer], licensed: true))
        try expectBuilt("settings", APIKeysV1.UpdateSettingsRequest(apiKeysEnabled: false, maxKeysPerUser: 0))
        try expectBuilt("generate", APIKeysV1.GenerateKeyRequest(name: "n", expiry: .expiresInSeconds(0)))
        try expectBuilt("revoke", APIKeysV1.RevokeKeysRequest(keyIDs: ["a", "", "b"], reason: "r"))
        try expectBuilt("echo", APIKeysV1.EchoResponse(payload: [0, 0xFF], metadata: ["a": "1", "b": "2"], callsInFlight: 4), exactBytes: false)

        #expect(try decodeBody(python.built["request"] ?? []) == .request(RequestFrame(
            callID: 5, method: "/a.B/C", metadata: ["x": "y", "authorization": "Bearer z"], timeoutMicros: 7, message: [1])))
        #expect(try decodeBody(python.built["response"] ?? []) == .response(ResponseFrame(
            callID: 6, code: .permissionDenied, statusMessage: "m", details: [0x0A, 0x01, 0x52])))
        #expect(try decodeBody(python.built["settingsFrame"] ?? []) == .settings(ServerSettings(
            protocolVersion: 1, maxFrameSize: 4_194_304, maxConcurrentCalls: 0, idleTimeoutMillis: 0, keepaliveIntervalMillis: 0, server: "s")))
    }
}
