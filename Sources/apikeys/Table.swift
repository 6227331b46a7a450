/// Columns padded to their widest cell, two spaces apart; the last column is not padded
/// so lines carry no trailing blanks.
struct Table {
    var headers: [String]
    var rows: [[String]] = []

    init(_ headers: String...) {
        self.headers = headers
    }

    mutating func append(_ cells: String...) {
        rows.append(cells)
    }

    func rendered() -> String {
        let all = [headers] + rows.map(\.cleanedForTable)
        var widths = Array(repeating: 0, count: headers.count)
        for row in all {
            for (column, cell) in row.enumerated() where column < widths.count {
                widths[column] = max(widths[column], cell.count)
            }
        }
        return all.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[column] - cell.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

private extension Array where Element == String {
    /// A newline or tab inside a cell (a key name may hold one) would break the alignment.
    var cleanedForTable: [String] {
        map { cell in
            String(cell.map { $0.isNewline || $0 == "\t" ? " " : $0 })
        }
    }
}
