import APIKeysWire
import Testing

/// The JSON reader behind `apikeys call` (issue 12): strict, exact numbers, and errors that
/// say where.
@Suite("JSONValue: parsing with positions (issue 12)")
struct JSONValueTests {
    static func parse(_ text: String) throws -> JSONValue {
        try JSONValue.parse(Array(text.utf8))
    }

    static func error(_ bytes: [UInt8]) -> String {
        do {
            _ = try JSONValue.parse(bytes)
            return "no error"
        } catch {
            return error.description
        }
    }

    static func error(_ text: String) -> String { error(Array(text.utf8)) }

    @Test("issue 12: values, order and number text are kept")
    func values() throws {
        let value = try Self.parse(#" {"b": [1, -2.5e3, 18446744073709551617], "a": {"t": true, "f": false, "n": null}} "#)
        #expect(value == .object([
            JSONMember("b", .array([.number("1"), .number("-2.5e3"), .number("18446744073709551617")])),
            JSONMember("a", .object([JSONMember("t", .bool(true)), JSONMember("f", .bool(false)), JSONMember("n", .null)])),
        ]))
        #expect(value.rendered() == """
            {
              "b": [
                1,
                -2.5e3,
                18446744073709551617
              ],
              "a": {
                "t": true,
                "f": false,
                "n": null
              }
            }
            """)
    }

    @Test("issue 12: escapes, surrogate pairs and UTF-8 read back to the same text")
    func strings() throws {
        #expect(try Self.parse(#""\u00e9\ud83d\udd11 \"\\\/\b\f\n\r\t""#) == .string("é🔑 \"\\/\u{08}\u{0C}\n\r\t"))
        #expect(try Self.parse("\"é🔑\"") == .string("é🔑"))
        #expect(JSONValue.string("a\u{01}\"\n").rendered() == #""a\u0001\"\n""#)
    }

    @Test("issue 12: invalid JSON is reported with its line and column")
    func positions() {
        #expect(Self.error(#"{"name": "x",}"#) == "invalid JSON at line 1, column 14: a trailing comma before }")
        #expect(Self.error(#"{"name" "x"}"#) == "invalid JSON at line 1, column 9: expected : after the member name")
        #expect(Self.error("{\n  \"a\": 1,\n  \"b\": tru\n}") == "invalid JSON at line 3, column 8: expected a value (object, array, string, number, true, false or null)")
        #expect(Self.error("{\"é\": x}") == "invalid JSON at line 1, column 7: expected a value (object, array, string, number, true, false or null)")
        #expect(Self.error(#"{"a": 1} x"#) == "invalid JSON at line 1, column 10: unexpected text after the JSON value")
        #expect(Self.error(#"{'a': 1}"#) == "invalid JSON at line 1, column 2: expected a member name in double quotes")
        #expect(Self.error(#"["a]"#) == "invalid JSON at line 1, column 5: a string is not closed")
        #expect(Self.error("") == "invalid JSON at line 1, column 1: the JSON ends where a value should be")
        #expect(Self.error("[01]") == "invalid JSON at line 1, column 3: a number cannot start with 0")
        #expect(Self.error("[1.]") == "invalid JSON at line 1, column 4: expected a digit after the decimal point")
        #expect(Self.error("[-]") == "invalid JSON at line 1, column 3: expected a digit")
        #expect(Self.error(#"["\x"]"#) == #"invalid JSON at line 1, column 3: an unknown escape \x"#)
        #expect(Self.error(#"["\ud800"]"#) == "invalid JSON at line 1, column 9: an unpaired UTF-16 surrogate")
        #expect(Self.error("[\"a\tb\"]").hasSuffix("a control character in a string must be escaped (\\n, \\t, \\u00XX)"))
    }

    @Test("issue 12: bytes that are not UTF-8 are refused, not repaired")
    func notUTF8() {
        #expect(Self.error([0x22, 0xFF, 0x22]) == "invalid JSON at line 1, column 2: the text is not valid UTF-8")
        #expect(Self.error([0x22, 0xC3, 0x22]) == "invalid JSON at line 1, column 2: the text is not valid UTF-8")
        // An overlong encoding of "/" and an encoded surrogate.
        #expect(Self.error([0x22, 0xC0, 0xAF, 0x22]).hasSuffix("not valid UTF-8"))
        #expect(Self.error([0x22, 0xED, 0xA0, 0x80, 0x22]).hasSuffix("not valid UTF-8"))
    }

    @Test("issue 12: deep nesting is refused at the limit instead of overflowing the stack")
    func depth() {
        let deep = String(repeating: "[", count: 100_000)
        #expect(Self.error(deep) == "invalid JSON at line 1, column 65: nested more than 64 levels deep")
        let fine = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        #expect(Self.error(fine) == "no error")
    }
}
