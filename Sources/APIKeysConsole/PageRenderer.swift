import Mustache

/// The console's Mustache templates, parsed once at start-up.
///
/// `{{name}}` escapes `< > & " '`, so whatever a user typed (a key named `<script>`)
/// renders as text; the only unescaped insertion, `{{{body}}}` in the layout, takes a page
/// that was itself rendered with escaping.
struct PageRenderer: Sendable {
    private let library: MustacheLibrary

    init() throws {
        var library = MustacheLibrary()
        for (name, text) in Templates.all {
            try library.register(text, named: name)
        }
        self.library = library
    }

    func render(_ template: String, _ data: [String: Any]) -> String {
        guard let text = library.render(data, withTemplate: template) else {
            preconditionFailure("no template named \(template)")
        }
        return text
    }
}
