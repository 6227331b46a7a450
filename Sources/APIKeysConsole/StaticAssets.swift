/// The stylesheet and the one script (`Static/console.css`, `Static/console.js`), compiled
/// into the binary by SwiftPM and served from `/static/` (same origin, as the
/// Content-Security-Policy requires).
enum StaticAssets {
    static let stylesheet = String(decoding: PackageResources.console_css, as: UTF8.self)
    static let script = String(decoding: PackageResources.console_js, as: UTF8.self)
}
