@testable import APIKeysDomain
import Testing

@Suite("X7: secrets")
struct SecretCodecTests {
    @Test("X7: prefix, embedded key ID, 43 random base62 characters and a checksum")
    func format() {
        let generated = SecretCodec.generate(.apiKey)
        #expect(generated.secret.hasPrefix("apk_"))
        #expect(generated.secret.count == 73)
        #expect(generated.id.hasPrefix("key_"))
        #expect(generated.id.count == 24)
        #expect(generated.secret.dropFirst(4).prefix(20) == generated.id.dropFirst(4))
        let random = generated.secret.dropFirst(24).prefix(43)
        #expect(random.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) })
        let parsed = SecretCodec.parse(generated.secret, as: .apiKey)
        #expect(parsed?.id == generated.compactID)
        #expect(parsed?.hash == generated.hash)
        #expect(SecretCodec.looksLikeSecret(generated.secret))
    }

    @Test("X7: every single-character typo is rejected by the checksum, without a lookup")
    func typos() {
        let secret = Array(SecretCodec.generate(.apiKey).secret)
        for i in 4..<secret.count {
            var typo = secret
            typo[i] = typo[i] == "a" ? "b" : "a"
            #expect(SecretCodec.parse(String(typo), as: .apiKey) == nil, "typo at \(i)")
        }
        var swapped = secret
        swapped.swapAt(30, 31)
        if swapped != secret { #expect(SecretCodec.parse(String(swapped), as: .apiKey) == nil) }
    }

    @Test("X7: a secret of one kind does not parse as another; garbage does not parse")
    func kinds() {
        let service = SecretCodec.generate(.service).secret
        #expect(service.hasPrefix("aks_"))
        #expect(SecretCodec.parse(service, as: .apiKey) == nil)
        #expect(SecretCodec.parse(service, as: .service) != nil)
        #expect(SecretCodec.generate(.operator).secret.hasPrefix("ako_"))
        #expect(SecretCodec.parse("", as: .apiKey) == nil)
        #expect(SecretCodec.parse("apk_short", as: .apiKey) == nil)
        #expect(SecretCodec.parse(String(repeating: "é", count: 73), as: .apiKey) == nil)
    }

    @Test("X7: secrets and IDs are unique; the hash is SHA-256 of the secret")
    func uniqueness() {
        let secrets = (0..<500).map { _ in SecretCodec.generate(.apiKey) }
        #expect(Set(secrets.map(\.secret)).count == 500)
        #expect(Set(secrets.map(\.id)).count == 500)
        let one = secrets[0]
        #expect(SecretHash(of: one.secret) == one.hash)
        #expect(SecretHash(bytes: one.hash.bytes) == one.hash)
        #expect(one.hash.bytes.count == 32)
    }

    @Test("X7: hashes compare in constant time (no early exit) and correctly")
    func constantTime() {
        let a = SecretHash(of: "a")
        var b = a
        #expect(a.constantTimeEquals(b))
        b.w3 ^= 1
        #expect(!a.constantTimeEquals(b))
        b = a
        b.w0 ^= 1 << 63
        #expect(!a.constantTimeEquals(b))
    }

    @Test("Key IDs round-trip through their compact form")
    func compactID() {
        let id = SecretCodec.generate(.apiKey).id
        let compact = CompactID(id, prefix: "key_")
        #expect(compact?.string(prefix: "key_") == id)
        #expect(CompactID("key_ABCDEFGHIJKLMNOPQRST", prefix: "key_") == nil)
        #expect(CompactID("svc_abcdefghijklmnopqrst", prefix: "key_") == nil)
    }

    @Test("Every base32 digit at every position encodes and parses back (the in-place encoder)")
    func compactIDDigits() {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        for position in 0..<CompactID.length {
            for digit in alphabet {
                var chars = Array(repeating: Character("a"), count: CompactID.length)
                chars[position] = digit
                let id = "key_" + String(chars)
                #expect(CompactID(id, prefix: "key_")?.string(prefix: "key_") == id)
                #expect(CompactID(id, prefix: "key_")?.base32 == String(chars))
            }
        }
        #expect(CompactID(high: 0, low: 0).string(prefix: "") == String(repeating: "a", count: 20))
        let mask: UInt64 = (1 << 50) - 1
        #expect(CompactID(high: mask, low: mask).string(prefix: "ak_") == "ak_" + String(repeating: "7", count: 20))
    }
}

@Suite("Roles: the names a principal carries")
struct RoleNamesTests {
    @Test("sortedNames is every role held, in name order, for every set of roles")
    func sortedNames() {
        let all = Role.allCases
        for mask in 0..<(1 << all.count) {
            let roles = Set(all.indices.filter { mask & (1 << $0) != 0 }.map { all[$0] })
            #expect(roles.sortedNames == roles.map(\.rawValue).sorted())
            #expect(Set<Role>(storedNames: roles.storedNames) == roles)
        }
        #expect(Role.sortedCases.indices.allSatisfy { Role.sortedCases[$0].sortedPosition == $0 })
    }
}
