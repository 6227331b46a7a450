/// The console's HTML, as Mustache templates compiled into the binary (nothing to install
/// beside it). Every `{{value}}` is HTML-escaped; no template holds inline script or
/// style, which the Content-Security-Policy would block anyway.
enum Templates {
    static let all: [String: String] = [
        "layout": layout, "message": message, "signin": signIn,
        "settings": settings, "settings-confirm": settingsConfirm, "keys": keys, "revoke-confirm": revokeConfirm, "revoke-results": revokeResults,
        "events": events, "users": users,
        "hub": hub, "secret": secret, "hub-confirm": hubConfirm,
    ]

    static let layout = """
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>{{title}} · apikeys console</title>
    <link rel="stylesheet" href="/static/console.css">
    <script src="/static/console.js" defer></script>
    </head>
    <body>
    <a class="skip" href="#main">Skip to content</a>
    {{#devMode}}<div class="dev-banner" role="alert"><strong>DEVELOPMENT MODE</strong>: anyone can sign in as any user of any tenant. Never expose this console to a network.</div>{{/devMode}}
    <header class="top">
    <a class="brand" href="/">apikeys <span>console</span></a>
    {{#signedIn}}
    <nav aria-label="Main">
    <ul>
    {{#isAdmin}}
    <li><a href="/console/keys"{{#nav_keys}} aria-current="page"{{/nav_keys}}>API keys</a></li>
    <li><a href="/console/events"{{#nav_events}} aria-current="page"{{/nav_events}}>Events</a></li>
    <li><a href="/console/users"{{#nav_users}} aria-current="page"{{/nav_users}}>Users</a></li>
    <li><a href="/console/settings"{{#nav_settings}} aria-current="page"{{/nav_settings}}>Settings</a></li>
    {{/isAdmin}}
    <li><a href="/hub/keys"{{#nav_hub}} aria-current="page"{{/nav_hub}}>My API keys</a></li>
    </ul>
    </nav>
    <div class="who"><span class="whoami">{{userID}} · {{tenantID}}</span>
    <form method="post" action="/signout"><input type="hidden" name="csrf" value="{{csrf}}"><button type="submit" class="link">Sign out</button></form></div>
    {{/signedIn}}
    </header>
    <main id="main">
    {{#notice}}<p class="notice" role="status">{{notice}}</p>{{/notice}}
    {{#error}}<p class="error" role="alert">{{error}}</p>{{/error}}
    {{{body}}}
    </main>
    </body>
    </html>
    """

    static let message = """
    <h1>{{heading}}</h1>
    <p class="error" role="alert">{{text}}</p>
    <p><a href="/">Back to the console</a></p>
    """

    static let signIn = """
    <h1>Sign in</h1>
    {{#devMode}}
    <p class="dev-note">Development mode: type the tenant and user to act for. apikeysd must know them (the operator creates tenants and users).</p>
    <form method="post" action="/signin" class="stack">
    <input type="hidden" name="csrf" value="{{signInToken}}">
    <label for="tenant">Tenant ID</label>
    <input id="tenant" name="tenant" required maxlength="63" autocomplete="organization" value="{{tenant}}">
    <label for="user">User ID</label>
    <input id="user" name="user" required maxlength="128" autocomplete="username" value="{{user}}">
    <button type="submit">Sign in</button>
    </form>
    {{/devMode}}
    {{^devMode}}
    <p>This console signs you in through your organisation's sign-in page. Open it through that address; if you did, your session may have ended: reload the page.</p>
    {{/devMode}}
    """
}
