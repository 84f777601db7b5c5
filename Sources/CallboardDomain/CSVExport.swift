/// Lines of the CSV exports (RFC 4180): each cell made spreadsheet-safe first (`SpreadsheetSafe`),
/// then quoted when it holds a comma, a double quote, a carriage return or a line feed (quotes
/// doubled); cells joined by commas, each line ended by CRLF. UTF-8, no byte-order mark.
public enum CSVExport {
    public static func line(_ cells: [String]) -> String {
        var out = ""
        for (i, cell) in cells.enumerated() {
            if i > 0 { out += "," }
            out += quoted(SpreadsheetSafe.text(cell))
        }
        return out + "\r\n"
    }

    static func quoted(_ cell: String) -> String {
        guard cell.unicodeScalars.contains(where: { $0 == "," || $0 == "\"" || $0 == "\r" || $0 == "\n" }) else { return cell }
        return "\"" + cell.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
