@testable import APIKeysStorage
import Foundation
import Testing

@Suite("Event details as stored JSON")
struct EventDetailsJSONTests {
    @Test("encodeDetails writes JSON that decodes to the same strings: quotes, backslashes, control characters, NFD, emoji",
          arguments: [
              [:],
              ["reason": "rotated"],
              ["a\"b": "c\\d", "new_line": "x\ny\r\tz", "nul": "\u{0}\u{1F}"],
              ["cafe\u{301}": "nfd, kept as NFD", "key": "🔑 and </script>"],
          ] as [[String: String]])
    func roundTrip(_ details: [String: String]) throws {
        let json = SQLiteQueries.encodeDetails(details)
        let decoded = try JSONDecoder().decode([String: String].self, from: Data(json.utf8))
        #expect(decoded.count == details.count)
        for (key, value) in details {
            // Byte for byte (X15): an NFD key comes back NFD.
            let match = decoded.first { Array($0.key.utf8) == Array(key.utf8) }
            #expect(match.map { Array($0.value.utf8) } == Array(value.utf8))
        }
    }

    @Test("Keys are written sorted, so one event's details are always the same bytes")
    func sortedKeys() {
        #expect(SQLiteQueries.encodeDetails(["b": "2", "a": "1", "c": "3"]) == #"{"a":"1","b":"2","c":"3"}"#)
    }
}
