import APIKeysClient
import APIKeysWire
import Testing

/// X16 on both stores: control characters in caller text. (NUL never arrives: the codec
/// refuses a string holding one as a malformed message; see the conformance cases.)
@Suite("Rules: control characters in caller text")
struct ControlCharacterRuleTests {
    @Test("X16: a revoke reason or search holding a control character is refused; tabs and line breaks in a reason stay; echoed caller text shows controls escaped, in answers and events")
    func controlCharacters() async throws {
        let t = try await RuleTenant.make()
        try await t.addUser("dana")
        let dana = t.as("dana")
        let (key, _) = try await t.generate("dana")

        await expectRefused(.invalidArgument, rule: "X16", reason: "reason_not_printable") {
            try await dana.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: key.id, reason: "leaked\u{1B}[2J"))
        }
        await expectRefused(.invalidArgument, rule: "R7", reason: "search_not_printable") {
            try await t.adminClient.listKeys(APIKeysV1.ListKeysRequest(search: "ci\u{7}"))
        }
        // Tabs and line breaks in a reason stay: people paste them from tickets.
        _ = try await dana.revokeKey(APIKeysV1.RevokeKeyRequest(keyID: key.id, reason: "rotated\tby ops\nticket 42"))
        let revoked = try await t.eventually(APIKeysV1.ListEventsRequest(keyID: key.id, action: "key.revoked")) { !$0.isEmpty }
        #expect(revoked.first?.details["reason"] == "rotated\tby ops\nticket 42")

        // A key ID with an escape sequence: not found, and neither the answer nor the event
        // carries the raw escape to whoever reads them in a terminal.
        let hostileID = "key_\u{1B}]0;owned\u{7}"
        let refusal = await expectRefused(.notFound, rule: nil, reason: nil) {
            try await dana.getKey(APIKeysV1.GetKeyRequest(keyID: hostileID))
        }
        #expect(refusal?.message.unicodeScalars.contains("\u{1B}") == false, "\(String(describing: refusal?.message))")
        let events = try await t.eventually { events in
            events.contains { $0.details["reason"] == "reason_not_printable" }
                && events.contains { $0.details["reason"] == "search_not_printable" }
        }
        for event in events {
            let texts = [event.keyID, event.actor] + Array(event.details.values)
            for text in texts where text != "rotated\tby ops\nticket 42" {
                #expect(!text.unicodeScalars.contains { $0.properties.generalCategory == .control }, "\(event.action): \(text)")
            }
        }
        await t.close()
    }
}
