@testable import APIKeysConsole
import Testing

@Suite("Console forms: what a browser posts")
struct FormDataTests {
    @Test("R11: every ticked key_id of the bulk form is kept, in order")
    func repeatedFields() {
        let form = FormData("csrf=t&key_id=key_a&key_id=key_b&bulk=1&key_id=key_c")
        #expect(form.all("key_id") == ["key_a", "key_b", "key_c"])
        #expect(form["key_id"] == "key_a")
        #expect(form["csrf"] == "t")
        #expect(form["missing"] == nil)
    }

    @Test("X12: '+' is a space, escapes decode, and a malformed escape stays as typed")
    func decoding() {
        let form = FormData("name=ci+pipeline&other=%3Cscript%3E%20%E2%9C%93&bad=100%zz&empty=&bare")
        #expect(form["name"] == "ci pipeline")
        #expect(form["other"] == "<script> ✓")
        #expect(form["bad"] == "100%zz")
        #expect(form["empty"] == "")
        #expect(form["bare"] == "")
        #expect(FormData("name=%20%20x%20").text("name") == "x")
    }

    @Test("Links: query values are percent-encoded and empty ones left out")
    func query() {
        #expect(FormData.query([("search", "a&b=c d"), ("status", ""), ("sort", "name")]) == "search=a%26b%3Dc%20d&sort=name")
        #expect(FormData(FormData.query([("search", "<x>&y")]))["search"] == "<x>&y")
    }
}
