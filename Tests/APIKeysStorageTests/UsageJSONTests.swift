@testable import APIKeysStorage
import Testing

@Suite("The usage flush's JSON numbers")
struct UsageJSONTests {
    @Test("appendDecimal writes what String(describing:) writes, at the edges too",
          arguments: [0, 1, 9, 10, -1, -10, 1_764_547_200_123, Int64.max, Int64.min])
    func decimal(_ value: Int64) {
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        SQLiteTransaction.appendDecimal(value, to: &bytes)
        #expect(String(decoding: bytes, as: UTF8.self) == "[\(value)")
    }
}
