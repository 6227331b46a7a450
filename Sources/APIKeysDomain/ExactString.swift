import Foundation

/// X15: a string that compares and hashes byte for byte (its UTF-8), to key tables of
/// identifiers. `String`'s `==` and hash follow canonical equivalence, so `"ren\u{E9}"` and
/// `"rene\u{301}"` would be one key, and two stored users one principal.
public struct ExactString: Hashable, Sendable {
    public var string: String

    public init(_ string: String) { self.string = string }

    public static func == (a: ExactString, b: ExactString) -> Bool { a.string.isByteEqual(to: b.string) }

    public func hash(into hasher: inout Hasher) {
        let utf8 = string.utf8
        hasher.combine(utf8.count)
        // Native strings (every string on Linux) are contiguous; the copy is only a fallback.
        if utf8.withContiguousStorageIfAvailable({ hasher.combine(bytes: UnsafeRawBufferPointer($0)) }) == nil {
            Array(utf8).withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }
}

extension String {
    /// X15: the same bytes, not merely canonically equivalent text (what `==` tells).
    /// Every comparison of identifiers (ownership, tenancy) uses this.
    func isByteEqual(to other: String) -> Bool {
        let a = utf8, b = other.utf8
        let count = a.count
        guard count == b.count else { return false }
        // memcmp, not elementsEqual: a generic loop cost ~500 instructions per 60-byte
        // comparison, and the Verify path makes several (index and cache lookups).
        return a.withContiguousStorageIfAvailable { pa in
            b.withContiguousStorageIfAvailable { pb in
                count == 0 || memcmp(pa.baseAddress!, pb.baseAddress!, count) == 0
            }
        }.flatMap { $0 } ?? a.elementsEqual(b)
    }
}

extension String {
    /// The NFC form (Foundation's canonical composition).
    var precomposedNFC: String { precomposedStringWithCanonicalMapping }
}
