extension String {
    /// The string without leading and trailing white space, by scalars: the same set Foundation's
    /// `trimmingCharacters(in: .whitespacesAndNewlines)` removes (Unicode White_Space — spaces,
    /// tabs, line ends, U+0085, no-break and wide spaces — and, as Foundation does, U+200B ZERO
    /// WIDTH SPACE). Foundation's goes through NSString: 4% of the server's time creating a
    /// request, a twentieth of the scheduler's.
    public var trimmedOfWhitespace: String {
        let utf8 = self.utf8
        // Most values start and end with a visible ASCII character: nothing to trim, nothing copied.
        if let first = utf8.first, let last = utf8.last, first > 0x20, first < 0x80, last > 0x20, last < 0x80 { return self }
        let scalars = unicodeScalars
        func kept(_ c: Unicode.Scalar) -> Bool { !c.properties.isWhitespace && c != "\u{200B}" }
        guard let start = scalars.firstIndex(where: kept), let end = scalars.lastIndex(where: kept)
        else { return "" }
        return String(scalars[start...end])
    }
}
