/// `--help` with a command's own options first: ArgumentParser always prints titled option
/// groups (our GLOBAL OPTIONS) before the untitled OPTIONS section, which buries the few
/// flags a command has under the twenty every command shares.
enum HelpText {
    static let globalHeader = "GLOBAL OPTIONS:"

    /// Moves the GLOBAL OPTIONS section to just after OPTIONS; other text is left as it is.
    static func ownOptionsFirst(_ text: String) -> String {
        var sections: [[Substring]] = [[]]
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if isHeader(line), !sections[sections.count - 1].isEmpty { sections.append([]) }
            sections[sections.count - 1].append(line)
        }
        guard let global = sections.firstIndex(where: { $0.first.map(String.init) == globalHeader }),
              let options = sections.firstIndex(where: { $0.first == "OPTIONS:" }),
              global < options else { return text }
        var moved = sections.remove(at: global)
        // Each section ends with a blank line before the next header; keep that shape.
        if moved.last?.isEmpty == false { moved.append("") }
        var before = sections[options - 1]
        if before.last?.isEmpty == false { before.append(""); sections[options - 1] = before }
        sections.insert(moved, at: options)
        var lines = sections.flatMap { $0 }
        // Output.line ends the text with one newline.
        while lines.last?.isEmpty == true { lines.removeLast() }
        return lines.joined(separator: "\n")
    }

    private static func isHeader(_ line: Substring) -> Bool {
        guard line.hasSuffix(":"), let first = line.first, first.isUppercase else { return false }
        return line.dropLast().allSatisfy { $0.isUppercase || $0 == " " }
    }
}
