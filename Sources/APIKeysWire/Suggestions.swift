/// "Did you mean" for a mistyped name: the known names nearest to it by edit distance.
enum Suggestions {
    /// Up to three names within a few edits of `name` (case ignored), nearest first.
    static func nearest(_ name: String, among names: [String]) -> [String] {
        let typed = Array(name.lowercased())
        // Short names tolerate one edit (a swap counts as one), long ones up to three.
        let limit = max(1, min(3, typed.count / 4))
        var scored: [(name: String, distance: Int)] = []
        for candidate in Set(names) {
            let distance = editDistance(typed, Array(candidate.lowercased()))
            if distance <= limit { scored.append((candidate, distance)) }
        }
        return scored.sorted { ($0.distance, $0.name) < ($1.distance, $1.name) }.prefix(3).map(\.name)
    }

    /// ` (did you mean "a" or "b"?)`, or nothing when no name is near.
    static func didYouMean(_ name: String, among names: [String]) -> String {
        let near = nearest(name, among: names)
        guard !near.isEmpty else { return "" }
        return " (did you mean " + near.map(JSONValue.quoted).joined(separator: " or ") + "?)"
    }

    /// Levenshtein distance, with a swap of two neighbours counted as one edit.
    static func editDistance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous2 = [Int](repeating: 0, count: b.count + 1)
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var row = [i] + [Int](repeating: 0, count: b.count)
            for j in 1...b.count {
                let cost = a[i - 1] == b[j - 1] ? 0 : 1
                row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
                if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                    row[j] = min(row[j], previous2[j - 2] + 1)
                }
            }
            previous2 = previous
            previous = row
        }
        return previous[b.count]
    }
}
