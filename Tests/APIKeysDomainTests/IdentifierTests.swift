import APIKeysDomain
import Testing

/// X15: identifiers are NFC and compared byte for byte.
@Suite("Identifiers (X15)")
struct IdentifierTests {
    static let nfc = "ren\u{E9}"
    static let nfd = "rene\u{301}"

    @Test("X15: Swift's String == calls ren\\u{E9} and rene\\u{301} equal; ExactString does not")
    func exactString() {
        #expect(Self.nfc == Self.nfd)  // why every identifier table and check had to change
        #expect(ExactString(Self.nfc) != ExactString(Self.nfd))
        #expect(Set([ExactString(Self.nfc), ExactString(Self.nfd)]).count == 2)
        #expect(ExactString(Self.nfc) == ExactString("ren" + "\u{E9}"))
        #expect(Validation.isNFC(Self.nfc) && !Validation.isNFC(Self.nfd) && Validation.isNFC("plain-ascii"))
    }

    @Test("X15: a user ID with an invisible character (ZWJ, variation selector, grapheme joiner) is refused")
    func invisible() throws {
        for id in ["admin\u{200D}", "ad\u{34F}min", "admin\u{FE0F}", "\u{2060}admin"] {
            #expect(throws: DomainError.self, "\(id.unicodeScalars.map { String($0.value, radix: 16) })") { try Validation.userID(id) }
        }
        try Validation.userID("ren\u{E9}")
        try Validation.userID("dana.o'neil@example.com")
    }

    @Test("X15: a user ID that is not NFC is refused wherever one enters")
    func nonNFCRefused() throws {
        let f = try Fixture()
        expectRefusal(.invalidArgument, "identifier_not_nfc", rule: "X15") {
            _ = try f.service.createUser(.operator, tenantID: f.tenant, userID: Self.nfd, displayName: "R")
        }
        _ = try f.service.createUser(.operator, tenantID: f.tenant, userID: Self.nfc, displayName: "R")
        expectRefusal(.invalidArgument, "identifier_not_nfc") { _ = try f.service.getUser(f.admin, userID: Self.nfd) }
        expectRefusal(.invalidArgument, "identifier_not_nfc") { _ = try f.service.assignRole(f.admin, userID: Self.nfd, role: .developer) }
        expectRefusal(.invalidArgument, "identifier_not_nfc") { _ = try f.service.removeRole(f.admin, userID: Self.nfd, role: .developer) }
        expectRefusal(.invalidArgument, "identifier_not_nfc") { _ = try f.service.setLicense(f.admin, userID: Self.nfd, licensed: true) }
        expectRefusal(.invalidArgument, "identifier_not_nfc") { _ = try f.service.removeUser(.operator, tenantID: f.tenant, userID: Self.nfd) }
        expectRefusal(.invalidArgument, "identifier_not_nfc") { try Validation.actingIdentity(tenantID: f.tenant, userID: Self.nfd) }
        #expect(try f.service.getUser(f.admin, userID: Self.nfc).userID.utf8.elementsEqual(Self.nfc.utf8))
    }

    @Test("X15: an equivalent pair stored before the rule is reported, and only the NFC one is reachable")
    func legacyPair() throws {
        let store = InMemoryKeyStore()
        let clock = ManualClock()
        let t = clock.nowMilliseconds
        let adminKey = SecretCodec.generate(.apiKey)
        let devKey = SecretCodec.generate(.apiKey)
        try store.write { tx in
            var tenant = Tenant(id: "acme", name: "Acme", createdAt: t, settings: .defaults(at: t))
            tenant.settings.apiKeysEnabled = true
            try tx.insertTenant(tenant)
            try tx.insertUser(User(tenantID: "acme", userID: Self.nfc, displayName: "Admin", roles: [.tenantAdmin, .developer], licensed: true, createdAt: t))
            try tx.insertUser(User(tenantID: "acme", userID: Self.nfd, displayName: "Dev", roles: [.developer], licensed: true, createdAt: t))
            for (generated, owner) in [(adminKey, Self.nfc), (devKey, Self.nfd)] {
                try tx.insertKey(APIKey(id: generated.id, tenantID: "acme", ownerID: owner, name: "k", createdAt: t, updatedAt: t,
                                        expiresAt: t + 3_600_000, secretHash: generated.hash))
            }
        }
        let service = try APIKeyService(store: store, clock: clock)
        #expect(service.identifierProblems.count == 1)
        let problem = try #require(service.identifierProblems.first)
        #expect(problem.userIDs.map { Array($0.utf8) } == [Array(Self.nfc.utf8), Array(Self.nfd.utf8)])
        #expect(problem.description.contains("rene\\u{301}"))

        // The NFD developer's key cannot act as, or beside, the NFC admin.
        expectRefusal(.unauthenticated, "revoked") { _ = try service.verify(devKey.secret, verifier: .service(name: "gw")) }
        let principal = try service.verify(adminKey.secret, verifier: .service(name: "gw"))
        #expect(principal.userID.utf8.elementsEqual(Self.nfc.utf8))
        #expect(Set(principal.roles) == ["Developer", "TenantAdmin"])
        let dev = Caller.member(.init(tenantID: "acme", userID: Self.nfd, via: .apiKey(keyID: devKey.id)))
        expectRefusal(.unauthenticated, "unknown_user") { _ = try service.get(dev, keyID: adminKey.id) }
        expectRefusal(.unauthenticated, "unknown_user") { _ = try service.rename(dev, keyID: adminKey.id, name: "mine") }

        // The admin is the admin (the index no longer merges the two), and owns only their key.
        let admin = Caller.member(.init(tenantID: "acme", userID: Self.nfc, via: .apiKey(keyID: adminKey.id)))
        _ = try service.getSettings(admin)
        expectRefusal(.permissionDenied, "not_owner", rule: "R19") { _ = try service.rename(admin, keyID: devKey.id, name: "mine") }
        #expect(try store.keys(tenantID: "acme", ownerID: Self.nfc).map(\.id) == [adminKey.id])

        // Removing the NFC user revokes only that user's keys, in memory and in the store alike.
        #expect(try service.removeUser(.operator, tenantID: "acme", userID: Self.nfc) == 1)
        #expect(try store.key(id: devKey.id)?.revokedAt == nil)
        #expect(try store.user(tenantID: "acme", userID: Self.nfd) != nil)
        #expect(try store.user(tenantID: "acme", userID: Self.nfc) == nil)
    }
}
