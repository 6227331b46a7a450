extension Templates {
    static let settings = """
    <h1>Settings</h1>
    <p class="lede">API-key settings of tenant <strong>{{tenantID}}</strong>. Changes are recorded in the <a href="/console/events?action=settings.changed">events</a>.</p>
    <form method="post" action="/console/settings" class="stack settings">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <div class="field check">
    <input type="checkbox" id="enabled" name="enabled" value="on"{{#enabled}} checked{{/enabled}}>
    <label for="enabled">Enable API keys</label>
    <p class="hint" id="enabled-hint">Switches every API key of the tenant on or off (R14). While off, no key authenticates and none can be generated; turning it on again restores every key that is still Active (X4).</p>
    </div>
    <div class="field">
    <label for="max_expiry">Maximum token expiry</label>
    <div class="inline"><input id="max_expiry" name="max_expiry" type="number" min="1" max="8760" required value="{{maxExpiryValue}}" aria-describedby="expiry-hint">
    <label class="visually-hidden" for="max_expiry_unit">Unit</label>
    <select id="max_expiry_unit" name="max_expiry_unit"><option value="hours"{{#expiryHours}} selected{{/expiryHours}}>hours</option><option value="days"{{^expiryHours}} selected{{/expiryHours}}>days</option></select></div>
    <p class="hint" id="expiry-hint">1 hour to 365 days. Applies to new keys only; existing keys keep their expiry (R15).</p>
    </div>
    <div class="field">
    <label for="max_keys">Maximum API keys per user</label>
    <input id="max_keys" name="max_keys" type="number" min="0" max="1000" required value="{{maxKeys}}" aria-describedby="keys-hint">
    <p class="hint" id="keys-hint">0 to 1000 Active keys per user. Applies to new keys only; keys that exist stay (R16).</p>
    </div>
    <div class="field">
    <label for="excessive_use">Excessive-use threshold (verifications per minute)</label>
    <input id="excessive_use" name="excessive_use" type="number" min="1" max="10000000" required value="{{excessiveUse}}" aria-describedby="use-hint">
    <p class="hint" id="use-hint">A key verified more often than this in a minute raises an “excessive use” event (X9, R9).</p>
    </div>
    <button type="submit">Save settings</button>
    </form>
    <p class="meta">Last changed {{updated}}.</p>
    """

    static let settingsConfirm = """
    <h1>Disable API keys?</h1>
    <p class="warning" role="alert"><strong>Every API key of tenant {{tenantID}} stops authenticating at once</strong>, and no key can be generated, until a tenant admin enables them again; then every key that is still Active works again (R14, X4).</p>
    <p>Changes to save: {{changes}}.</p>
    <form method="post" action="/console/settings" class="stack">
    <input type="hidden" name="csrf" value="{{csrf}}">
    {{#fields}}<input type="hidden" name="{{name}}" value="{{value}}">{{/fields}}
    <input type="hidden" name="confirmed" value="yes">
    <div class="actions"><button type="submit" class="danger" id="confirm-settings">Disable API keys</button> <a href="/console/settings">Cancel</a></div>
    </form>
    """

    static let keys = """
    <h1>API keys</h1>
    <p class="lede">Every key of tenant <strong>{{tenantID}}</strong>. Revoke stops a key for good (R10, R12); only its owner can delete it, from their own page (R13).</p>
    <form class="filters" method="get" action="/console/keys" role="search">
    <div><label for="search">Search name, key ID or owner</label>
    <input id="search" name="search" type="search" maxlength="256" value="{{search}}"></div>
    <div><label for="status">Status</label>
    <select id="status" name="status">{{#statusOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/statusOptions}}</select></div>
    <div><label for="sort">Sort by</label>
    <select id="sort" name="sort">{{#sortOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/sortOptions}}</select></div>
    <div><label for="order">Order</label>
    <select id="order" name="order"><option value="asc"{{^descending}} selected{{/descending}}>Ascending</option><option value="desc"{{#descending}} selected{{/descending}}>Descending</option></select></div>
    <div><button type="submit">Search</button></div>
    </form>
    <form method="post" action="/console/keys/revoke" id="keys-form">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <div class="table-wrap">
    <table class="data keys">
    <caption>{{caption}}</caption>
    <thead><tr>
    <th scope="col"><input type="checkbox" id="select-all" data-select-all="key_id" aria-label="Select every Active key on this page"></th>
    {{#columns}}<th scope="col"{{#ariaSort}} aria-sort="{{ariaSort}}"{{/ariaSort}}><a href="{{href}}">{{label}}<span aria-hidden="true">{{arrow}}</span></a></th>{{/columns}}
    <th scope="col">Actions</th>
    </tr></thead>
    <tbody>
    {{#keys}}
    <tr id="row-{{id}}" data-key-id="{{id}}">
    <td>{{#active}}<input type="checkbox" name="key_id" value="{{id}}" id="select-{{id}}" aria-label="Select key {{name}} ({{id}})">{{/active}}</td>
    <td data-label="Name" class="name">{{name}}</td>
    <td data-label="ID"><code>{{id}}</code></td>
    <td data-label="Owner">{{owner}}</td>
    <td data-label="Last updated">{{updated}}</td>
    <td data-label="Created">{{created}}</td>
    <td data-label="Expiry">{{expires}}</td>
    <td data-label="Status"><span class="badge badge-{{statusClass}}">{{status}}</span></td>
    <td data-label="Actions">{{#active}}<details class="rowmenu"><summary>Actions<span class="visually-hidden"> for {{id}}</span></summary><button type="submit" name="only" value="{{id}}" class="danger">Revoke…</button></details>{{/active}}</td>
    </tr>
    {{/keys}}
    {{^keys}}<tr><td colspan="9">No key matches.</td></tr>{{/keys}}
    </tbody>
    </table>
    </div>
    <div class="bulk"><button type="submit" name="bulk" value="1" class="danger">Revoke selected…</button></div>
    </form>
    <nav class="pager" aria-label="Pages">{{#firstHref}}<a href="{{firstHref}}">First page</a>{{/firstHref}}{{#nextHref}}<a href="{{nextHref}}" rel="next">Next page</a>{{/nextHref}}</nav>
    """

    static let revokeConfirm = """
    <h1>Revoke {{countText}}?</h1>
    <p class="warning" role="alert"><strong>Revocation cannot be undone (R12).</strong> A revoked key stops authenticating at the very next verification and can never be made Active again.</p>
    <ul class="keylist">{{#keys}}<li><code>{{id}}</code> {{name}} {{#owner}}<span class="meta">owned by {{owner}}</span>{{/owner}} {{#status}}<span class="badge badge-{{statusClass}}">{{status}}</span>{{/status}}</li>{{/keys}}</ul>
    <form method="post" action="{{action}}" class="stack">
    <input type="hidden" name="csrf" value="{{csrf}}">
    {{#keys}}<input type="hidden" name="key_id" value="{{id}}">{{/keys}}
    <input type="hidden" name="confirmed" value="yes">
    <label for="reason">Reason (optional, recorded in the events)</label>
    <input id="reason" name="reason" maxlength="512">
    <div class="actions"><button type="submit" class="danger" id="confirm-revoke">Revoke permanently</button> <a href="{{cancel}}">Cancel</a></div>
    </form>
    """

    static let revokeResults = """
    <h1>Revoke results</h1>
    <p class="lede">{{summary}}</p>
    <div class="table-wrap">
    <table class="data results">
    <caption>What happened to each key (X6)</caption>
    <thead><tr><th scope="col">Key ID</th><th scope="col">Outcome</th><th scope="col">Detail</th></tr></thead>
    <tbody>
    {{#results}}<tr data-key-id="{{id}}"><td><code>{{id}}</code></td><td><span class="badge badge-{{css}}">{{outcome}}</span></td><td>{{message}}</td></tr>{{/results}}
    </tbody>
    </table>
    </div>
    <p><a href="/console/keys">Back to the keys</a></p>
    """

    static let events = """
    <h1>Events</h1>
    <p class="lede">Key activity and every change or refusal in tenant <strong>{{tenantID}}</strong>, newest first (R9, X10).</p>
    <form class="filters" method="get" action="/console/events" role="search">
    <div><label for="key_id">Key ID</label><input id="key_id" name="key_id" value="{{keyID}}" maxlength="128"></div>
    <div><label for="action">Action</label><select id="action" name="action">{{#actionOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/actionOptions}}</select></div>
    <div><label for="actor">Actor</label><input id="actor" name="actor" value="{{actor}}" maxlength="128"></div>
    <div><label for="since">From (UTC)</label><input id="since" name="since" type="datetime-local" value="{{since}}"></div>
    <div><label for="until">Until (UTC)</label><input id="until" name="until" type="datetime-local" value="{{until}}"></div>
    <div><button type="submit">Filter</button></div>
    </form>
    <div class="table-wrap">
    <table class="data events">
    <caption>Events{{#filtered}} matching the filters{{/filtered}}</caption>
    <thead><tr><th scope="col">Time</th><th scope="col">Action</th><th scope="col">Actor</th><th scope="col">Key ID</th><th scope="col">Outcome</th><th scope="col">Details</th></tr></thead>
    <tbody>
    {{#events}}
    <tr data-event-id="{{eventID}}">
    <td data-label="Time">{{time}}</td>
    <td data-label="Action"><span class="action">{{action}}</span>{{#repeated}} <span class="meta">×{{count}}</span>{{/repeated}}</td>
    <td data-label="Actor">{{actor}}</td>
    <td data-label="Key ID">{{#hasKey}}<code>{{keyID}}</code>{{/hasKey}}</td>
    <td data-label="Outcome"><span class="badge badge-{{outcomeClass}}">{{outcome}}</span></td>
    <td data-label="Details"><details class="event-details"><summary>Details<span class="visually-hidden"> of event {{eventID}}</span></summary>
    <dl>
    <dt>Event</dt><dd>{{eventID}}</dd>
    {{#details}}<dt>{{name}}</dt><dd>{{value}}</dd>{{/details}}
    </dl>
    {{#hasKey}}
    <p class="event-key"><code id="event-key-{{eventID}}">{{keyID}}</code>
    <button type="button" class="copy" data-copy="{{keyID}}">Copy key ID</button>
    <a class="find-key" href="/console/keys?search={{keyID}}">Find this key in the key table</a></p>
    {{/hasKey}}
    </details></td>
    </tr>
    {{/events}}
    {{^events}}<tr><td colspan="6">No event matches.</td></tr>{{/events}}
    </tbody>
    </table>
    </div>
    <nav class="pager" aria-label="Pages">{{#firstHref}}<a href="{{firstHref}}">Newest</a>{{/firstHref}}{{#nextHref}}<a href="{{nextHref}}" rel="next">Older events</a>{{/nextHref}}</nav>
    """

    static let users = """
    <h1>Users</h1>
    <p class="lede">Who may generate keys in tenant <strong>{{tenantID}}</strong>: a user needs the Developer role and a license, and API keys enabled (R5, R17).</p>
    <div class="table-wrap">
    <table class="data users">
    <caption>Users of the tenant</caption>
    <thead><tr><th scope="col">User</th><th scope="col">Name</th><th scope="col">Roles</th><th scope="col">License</th><th scope="col">Actions</th></tr></thead>
    <tbody>
    {{#users}}
    <tr data-user-id="{{userID}}">
    <td data-label="User"><code>{{userID}}</code></td>
    <td data-label="Name">{{displayName}}</td>
    <td data-label="Roles">{{#roles}}<span class="badge badge-role">{{.}}</span> {{/roles}}</td>
    <td data-label="License">{{#licensed}}<span class="badge badge-active">Licensed</span>{{/licensed}}{{^licensed}}<span class="badge badge-unknown">No license</span>{{/licensed}}</td>
    <td data-label="Actions"><div class="row-actions">
    <form method="post" action="/console/users/developer"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="user_id" value="{{userID}}">
    {{#developer}}<input type="hidden" name="grant" value="no"><button type="submit">Remove Developer<span class="visually-hidden"> from {{userID}}</span></button>{{/developer}}
    {{^developer}}<input type="hidden" name="grant" value="yes"><button type="submit">Grant Developer<span class="visually-hidden"> to {{userID}}</span></button>{{/developer}}
    </form>
    <form method="post" action="/console/users/license"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="user_id" value="{{userID}}">
    {{#licensed}}<input type="hidden" name="licensed" value="no"><button type="submit">Take license<span class="visually-hidden"> from {{userID}}</span></button>{{/licensed}}
    {{^licensed}}<input type="hidden" name="licensed" value="yes"><button type="submit">Give license<span class="visually-hidden"> to {{userID}}</span></button>{{/licensed}}
    </form>
    </div></td>
    </tr>
    {{/users}}
    </tbody>
    </table>
    </div>
    """
}
