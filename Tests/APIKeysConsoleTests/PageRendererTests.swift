@testable import APIKeysConsole
import Testing

@Suite("Console templates")
struct PageRendererTests {
    @Test("X12: what a user typed is escaped in every template value")
    func escaping() throws {
        let pages = try PageRenderer()
        let html = pages.render("message", ["heading": "<script>alert(1)</script>", "text": "\"'><img src=x onerror=y>"])
        #expect(!html.contains("<script>") && !html.contains("<img"))
        #expect(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
        #expect(html.contains("&quot;&#39;&gt;&lt;img"))
    }

    @Test("CSP: no template holds inline script, inline style or an event handler")
    func nothingInline() {
        for (name, text) in Templates.all {
            #expect(!text.contains("<script>") && !text.contains(" style=") && !text.contains(" onclick="), "\(name)")
        }
    }

    @Test("Events: a datetime-local field is read as UTC")
    func utcTime() {
        #expect(Console.utcMilliseconds("1970-01-01T00:01") == 60_000)
        #expect(Console.utcMilliseconds("2026-11-30T14:05:30") == 1_796_047_530_000)
        #expect(Console.utcMilliseconds("yesterday") == nil)
        #expect(Display.time(1_796_047_530_000) == "2026-11-30 14:05:30 UTC")
        #expect(Display.time(0) == "Never")
    }
}
