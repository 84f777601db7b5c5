import Testing

@testable import CallboardHTTP

@Suite struct MultipartFormTests {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    @Test func readsNamedParts() {
        let body = bytes(
            "--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\nabc\r\n"
                + "--B\r\nContent-Disposition: form-data; name=\"file\"; filename=\"d.csv\"\r\nContent-Type: text/csv\r\n\r\na,b\r\n1,2\r\n--B--\r\n")
        let form = MultipartForm.parse(body, boundary: "B")
        #expect(form["csrf"] == bytes("abc"))
        #expect(form["file"] == bytes("a,b\r\n1,2"))
    }

    /// Malformed bodies are ignored, never a crash: a part whose headers end at the next delimiter,
    /// no closing delimiter, an empty body, a lone delimiter.
    @Test func malformedBodiesDoNotCrash() {
        for raw in [
            "--B\r\nContent-Disposition: form-data; name=a\r\n\r\n--B", "--B\r\nContent-Disposition: form-data; name=a\r\n\r\nx",
            "", "--B", "--B--", "--B\r\n\r\n--B--", "--B\r\nContent-Disposition: form-data; name=a\r\n--B\r\n\r\n--B--",
        ] {
            _ = MultipartForm.parse(bytes(raw), boundary: "B")
        }
        #expect(MultipartForm.parse(bytes("--B\r\nContent-Disposition: form-data; name=a\r\n\r\n--B"), boundary: "B")["a"] == nil)
    }

    @Test func boundariesAreOneToSeventyCharacters() {
        #expect(MultipartForm.boundary(fromContentType: "multipart/form-data; boundary=\"abc\"") == "abc")
        #expect(MultipartForm.boundary(fromContentType: "multipart/form-data; boundary=" + String(repeating: "-", count: 71)) == nil)
        #expect(MultipartForm.boundary(fromContentType: "application/x-www-form-urlencoded") == nil)
    }
}
