/// Rows printed as columns aligned on their widest cell, separated by two spaces: `list` and `status` output.
struct TextTable {
    private var rows: [[String]]

    /// Creates a table whose first row is `header`.
    init(header: [String]) { self.rows = [header] }

    /// Adds a row; it may have fewer cells than the header.
    mutating func append(_ row: [String]) { self.rows.append(row) }

    /// The table as lines, without trailing spaces.
    /// - Parameter indent: Put before every line.
    func lines(indent: String = "") -> [String] {
        let columns = self.rows.map(\.count).max() ?? 0
        var widths = [Int](repeating: 0, count: columns)
        for row in self.rows {
            for (column, cell) in row.enumerated() { widths[column] = max(widths[column], cell.count) }
        }
        return self.rows.map { row in
            var line = indent
            for (column, cell) in row.enumerated() {
                line += cell
                if column < row.count - 1 {
                    line += String(repeating: " ", count: widths[column] - cell.count + 2)
                }
            }
            return line
        }
    }
}
