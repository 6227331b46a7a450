/// The console's HTML: the Mustache templates in `Templates/`, compiled into the binary by
/// SwiftPM (nothing to install beside it). Every `{{value}}` is HTML-escaped; no template
/// holds inline script or style, which the Content-Security-Policy would block anyway.
enum Templates {
    static let all: [String: String] = [
        "events": text(PackageResources.events_mustache),
        "hub": text(PackageResources.hub_mustache),
        "hub-confirm": text(PackageResources.hub_confirm_mustache),
        "keys": text(PackageResources.keys_mustache),
        "layout": text(PackageResources.layout_mustache),
        "message": text(PackageResources.message_mustache),
        "revoke-confirm": text(PackageResources.revoke_confirm_mustache),
        "revoke-results": text(PackageResources.revoke_results_mustache),
        "secret": text(PackageResources.secret_mustache),
        "settings": text(PackageResources.settings_mustache),
        "settings-confirm": text(PackageResources.settings_confirm_mustache),
        "signin": text(PackageResources.signin_mustache),
        "users": text(PackageResources.users_mustache),
    ]

    private static func text(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}
