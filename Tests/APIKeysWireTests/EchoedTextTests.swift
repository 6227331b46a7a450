@testable import APIKeysWire
import Testing

@Suite("EchoedText (X16: bounded echo of caller input)")
struct EchoedTextTests {
    @Test("text of at most 128 bytes is quoted whole")
    func shortWhole() {
        let text = String(repeating: "a", count: 128)
        #expect(EchoedText.quote(text) == text)
    }

    @Test("longer text keeps its first 128 bytes and says it was cut, with the full size")
    func longCut() {
        let quoted = EchoedText.quote(String(repeating: "a", count: 129))
        #expect(quoted == String(repeating: "a", count: 128) + "…(cut, 129 bytes)")
    }

    @Test("the cut never splits a character: a 2-byte character across byte 128 is left out whole")
    func cutAtScalarBoundary() {
        // 127 ASCII bytes, then "é" (C3 A9) on bytes 128–129.
        let quoted = EchoedText.quote(String(repeating: "a", count: 127) + "éz")
        #expect(quoted == String(repeating: "a", count: 127) + "…(cut, 130 bytes)")
    }

    @Test("4-byte characters: the quote is whole characters, at most 128 bytes of them")
    func fourByteCharacters() {
        let quoted = EchoedText.quote(String(repeating: "😀", count: 100))
        let kept = quoted.prefix { $0 == "😀" }
        #expect(kept.utf8.count == 128)
        #expect(quoted.hasSuffix("…(cut, 400 bytes)"))
    }

    @Test("a substring is quoted from its own bytes")
    func substring() {
        let text = "xx" + String(repeating: "b", count: 200)
        #expect(EchoedText.quote(text.dropFirst(2), limit: 4) == "bbbb…(cut, 200 bytes)")
    }
}
