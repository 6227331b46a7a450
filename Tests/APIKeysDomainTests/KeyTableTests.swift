@testable import APIKeysDomain
import Testing

/// The verification index's packed key table (issue 14, goal 6) against a Dictionary.
@Suite("Key table")
struct KeyTableTests {
    func hash(_ n: Int) -> SecretHash { SecretHash(w0: UInt64(n), w1: 1, w2: 2, w3: 3) }

    @Test("20,000 random adds, replaces and removes agree with a Dictionary at every step's end")
    func againstDictionary() {
        var table = KeyTable()
        var model: [CompactID: (hash: SecretHash, tenant: String, owner: String, expires: Int64)] = [:]
        var generator = SystemRandomNumberGenerator()
        // Few distinct high/low values: many IDs share a home slot, so probing, wrap-around
        // and backward shifts all happen.
        var known: [CompactID] = []
        for step in 0..<20_000 {
            let action = Int.random(in: 0..<10, using: &generator)
            if action < 6 || known.isEmpty {
                let id = CompactID(high: UInt64.random(in: 0..<64, using: &generator), low: UInt64.random(in: 0..<512, using: &generator))
                let tenant = "t\(step % 3)", owner = "u\(step % 17)"
                table.set(id, hash: hash(step), expiresAt: Int64(step), tenantID: tenant, ownerID: owner,
                          revoked: step % 2 == 0, expiryRecorded: false)
                if model[id] == nil { known.append(id) }
                model[id] = (hash(step), tenant, owner, Int64(step))
            } else {
                let index = Int.random(in: 0..<known.count, using: &generator)
                let id = known.remove(at: index)
                table.remove(id)
                model[id] = nil
                #expect(table.position(of: id) == nil)
            }
        }
        #expect(table.count == model.count)
        for (id, expected) in model {
            guard let position = table.position(of: id) else {
                Issue.record("\(id) is missing")
                continue
            }
            let entry = table[position: position]
            #expect(entry.hash == expected.hash && entry.expiresAt == expected.expires)
            #expect(table.string(entry.tenant) == expected.tenant && table.string(entry.owner) == expected.owner)
        }
        #expect(Set(table.ids) == Set(model.keys))
    }

    @Test("A snapshot load (appends, then one index build) finds every key, keeps an ID's later entry, and stays editable")
    func loadThenIndex() {
        var table = KeyTable(capacity: 5_000)
        var model: [CompactID: Int] = [:]
        var generator = SystemRandomNumberGenerator()
        // Few distinct IDs among 5,000 appends: repeats and shared home slots both happen.
        for step in 0..<5_000 {
            let id = CompactID(high: UInt64.random(in: 0..<8, using: &generator), low: UInt64.random(in: 0..<400, using: &generator))
            table.appendUnindexed(id, hash: hash(step), expiresAt: Int64(step), tenantID: "t", ownerID: "u\(step % 7)",
                                  revoked: false, expiryRecorded: false)
            model[id] = step
        }
        table.indexLoaded()
        #expect(table.count == model.count)
        #expect(Set(table.ids) == Set(model.keys))
        for (id, step) in model {
            guard let position = table.position(of: id) else {
                Issue.record("\(id) is missing after the load")
                continue
            }
            #expect(table[position: position].hash == hash(step))
            #expect(table.string(table[position: position].owner) == "u\(step % 7)")
        }
        // The built table takes the usual edits: every key removed, one by one, then one added.
        for id in model.keys {
            table.remove(id)
            #expect(table.position(of: id) == nil)
        }
        #expect(table.count == 0)
        table.set(CompactID(high: 9, low: 9), hash: hash(1), expiresAt: 1, tenantID: "t", ownerID: "u", revoked: false, expiryRecorded: false)
        #expect(table.position(of: CompactID(high: 9, low: 9)) != nil)
    }

    @Test("X15: tenant and owner strings are interned byte for byte (NFC and NFD stay two)")
    func interningIsExact() {
        var table = KeyTable()
        let nfc = "caf\u{E9}", nfd = "cafe\u{301}"
        table.set(CompactID(high: 1, low: 1), hash: hash(1), expiresAt: 1, tenantID: "acme", ownerID: nfc, revoked: false, expiryRecorded: false)
        table.set(CompactID(high: 2, low: 2), hash: hash(2), expiresAt: 1, tenantID: "acme", ownerID: nfd, revoked: false, expiryRecorded: false)
        let a = table[position: table.position(of: CompactID(high: 1, low: 1))!]
        let b = table[position: table.position(of: CompactID(high: 2, low: 2))!]
        #expect(a.tenant == b.tenant && a.owner != b.owner)
        #expect(Array(table.string(b.owner).utf8) == Array(nfd.utf8))
    }
}
