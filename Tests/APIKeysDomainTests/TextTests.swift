import APIKeysDomain
import Foundation
import Testing

/// X16 bounded text and X19 pasted secrets.
@Suite("Bounded text and pasted secrets (X16, X19)")
struct TextTests {
    /// One character carrying `marks` combining acute accents: 1 + 2 × marks bytes.
    static func bomb(_ marks: Int) -> String { "a" + String(repeating: "\u{301}", count: marks) }

    @Test("X16: a revoke reason of 512 bytes is kept whole; 513 bytes or a one-character combining-mark bomb is refused, never cut")
    func revokeReason() throws {
        let f = try Fixture()
        let exact = String(repeating: "\u{E9}", count: 256)  // 512 bytes
        let key = try f.generate(f.dev).key
        let revoked = try f.service.revoke(f.dev, keyID: key.id, reason: exact)
        #expect(revoked.revokeReason == exact)
        #expect(f.events(EventAction.keyRevoked).last?.details["reason"] == exact)
        let other = try f.generate(f.dev).key
        expectRefusal(.invalidArgument, "reason_too_long", rule: "X16") {
            _ = try f.service.revoke(f.dev, keyID: other.id, reason: exact + "x")
        }
        #expect(Self.bomb(3000).count == 1)
        expectRefusal(.invalidArgument, "reason_too_long") { _ = try f.service.revoke(f.dev, keyID: other.id, reason: Self.bomb(3000)) }
        expectRefusal(.invalidArgument, "reason_too_long") { _ = try f.service.revokeMany(f.admin, keyIDs: [other.id], reason: Self.bomb(3000)) }
        #expect(try f.store.key(id: other.id)?.revokedAt == nil)
    }

    @Test("X16: key, display and tenant names are bounded in bytes as well as characters")
    func names() throws {
        let f = try Fixture()
        let heavy = String(repeating: "e\u{301}\u{301}", count: 250)  // 250 characters, 1,250 bytes
        expectRefusal(.invalidArgument, "name_too_long", rule: "X16") { _ = try f.generate(f.dev, heavy) }
        _ = try f.generate(f.dev, String(repeating: "\u{1F600}", count: 256))  // 256 characters, 1,024 bytes
        expectRefusal(.invalidArgument, "name_too_long") { _ = try f.generate(f.dev, String(repeating: "x", count: 257)) }
        expectRefusal(.invalidArgument, "display_name_too_long") {
            _ = try f.service.createUser(.operator, tenantID: f.tenant, userID: "long", displayName: heavy)
        }
        expectRefusal(.invalidArgument, "invalid_tenant_name") { _ = try f.service.createTenant(.operator, id: "t2", name: heavy) }
        expectRefusal(.invalidArgument, "search_too_long") { _ = try f.service.list(f.dev, KeyListRequest(search: heavy)) }
    }

    @Test("X16: a 3 MB user ID is refused and not copied into the stored refusal")
    func hugeUserID() throws {
        let f = try Fixture()
        let huge = String(repeating: "u", count: 3_000_000)
        let before = f.store.allEvents.count
        expectRefusal(.invalidArgument, "invalid_user_id") { _ = try f.service.getUser(f.admin, userID: huge) }
        expectRefusal(.invalidArgument, "invalid_user_id") { _ = try f.service.assignRole(f.admin, userID: huge, role: .developer) }
        expectRefusal(.invalidArgument, "invalid_user_id") { _ = try f.service.removeRole(f.admin, userID: huge, role: .developer) }
        expectRefusal(.invalidArgument, "invalid_user_id") { _ = try f.service.setLicense(f.admin, userID: huge, licensed: true) }
        let refusals = f.store.allEvents.dropFirst(before)
        #expect(!refusals.isEmpty)
        for event in refusals {
            let size = event.details.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count } + event.actor.utf8.count
            #expect(size < 1024, "\(event)")
        }
    }

    @Test("X16: an event's details are capped as a whole at 4 KiB, values cut on a character boundary")
    func detailsCap() {
        let event = Event(time: 0, tenantID: "t", actor: "a", action: "x", details: [
            "a": String(repeating: "\u{E9}", count: 3000), "b": String(repeating: "b", count: 3000), "c": "short",
        ])
        let size = event.details.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count }
        #expect(size <= Event.maxDetailsBytes)
        #expect(event.details["c"] == "short")
        #expect(event.details["a"]?.hasSuffix("…") == true)
        #expect(event.details["a"]?.unicodeScalars.dropLast().allSatisfy { $0 == "\u{E9}" } == true)
    }

    @Test("X16: an error message quotes at most 128 bytes of caller text, cut at a UTF-8 boundary")
    func quoting() {
        let quoted = Validation.quoted(String(repeating: "\u{E9}", count: 1000))
        let inner = quoted.dropFirst().dropLast()  // the quotes
        #expect(inner.hasSuffix("…"))
        #expect(inner.dropLast().utf8.count <= 128)
        #expect(inner.dropLast().unicodeScalars.allSatisfy { $0 == "\u{E9}" })
        #expect(Validation.quoted("dana") == "\"dana\"")
        expectRefusal(.invalidArgument, "invalid_tenant_id") { try Validation.tenantID(String(repeating: "Z", count: 100_000)) }
        do { try Validation.tenantID(String(repeating: "Z", count: 100_000)) } catch {
            #expect(error.message.utf8.count < 300)
        }
    }

    @Test("X19: secrets of every kind are found inside text, and nothing else is")
    func scanning() {
        for kind in SecretCodec.Kind.allCases {
            let secret = SecretCodec.generate(kind).secret
            #expect(SecretCodec.containsSecret(secret))
            #expect(SecretCodec.containsSecret("leaked: \(secret), sorry"))
            #expect(SecretCodec.redactingSecrets(in: "leaked: \(secret), sorry") == "leaked: [redacted \(kind.secretPrefix) secret], sorry")
            var typo = Array(secret.utf8)
            typo[40] = typo[40] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
            #expect(!SecretCodec.containsSecret(String(decoding: typo, as: UTF8.self)))
        }
        let two = "\(SecretCodec.generate(.apiKey).secret)\(SecretCodec.generate(.service).secret)"
        #expect(SecretCodec.redactingSecrets(in: two) == "[redacted apk_ secret][redacted aks_ secret]")
        #expect(!SecretCodec.containsSecret("apk_ but not a secret"))
    }

    @Test("X19: a pasted secret is refused as a key name, user ID, display or tenant name, and never echoed")
    func secretsRefusedInNames() throws {
        let f = try Fixture()
        let secret = try f.generate(f.dev).secret
        let refusals: [() throws -> Void] = [
            { _ = try f.generate(f.dev, "prod \(secret)") },
            { _ = try f.service.createUser(.operator, tenantID: f.tenant, userID: secret, displayName: "x") },
            { _ = try f.service.createUser(.operator, tenantID: f.tenant, userID: "ok", displayName: secret) },
            { _ = try f.service.createTenant(.operator, id: "t2", name: secret) },
            { _ = try f.service.getUser(f.admin, userID: secret) },
            { try Validation.actingIdentity(tenantID: secret, userID: nil) },
        ]
        for refuse in refusals {
            let error = expectRefusal(.invalidArgument, "secret_in_text", rule: "X19", refuse)
            #expect(error?.message.contains(secret) == false)
        }
        for event in f.store.allEvents {
            #expect(!"\(event)".contains(secret))
        }
    }

    @Test("X19: a secret in a revoke reason is redacted in the key and its event")
    func secretRedactedInReason() throws {
        let f = try Fixture()
        let generated = try f.generate(f.dev)
        let (key, secret) = (generated.key, generated.secret)
        let revoked = try f.service.revoke(f.dev, keyID: key.id, reason: "leaked: \(secret)")
        #expect(revoked.revokeReason == "leaked: [redacted apk_ secret]")
        #expect(f.events(EventAction.keyRevoked).last?.details["reason"] == "leaked: [redacted apk_ secret]")
        #expect(!f.store.allEvents.contains { "\($0)".contains(secret) })
    }
}
