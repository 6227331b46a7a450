extension Templates {
    static let hub = """
    <h1>My API keys</h1>
    <section class="card" aria-labelledby="generate-heading">
    <h2 id="generate-heading">Generate a key</h2>
    {{#generateError}}<p class="error" role="alert" id="generate-error">{{generateError}}</p>{{/generateError}}
    <form method="post" action="/hub/keys/generate" class="stack">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <label for="name">Description (the key's name)</label>
    <input id="name" name="name" required maxlength="256" value="{{typedName}}" aria-describedby="name-hint">
    <p class="hint" id="name-hint">Say what uses the key, e.g. “CI pipeline”. You can rename it later (R19).</p>
    <label for="expires_in">Expires in</label>
    <select id="expires_in" name="expires_in" aria-describedby="expiry-hint">{{#expiryOptions}}<option value="{{value}}"{{#selected}} selected{{/selected}}>{{label}}</option>{{/expiryOptions}}</select>
    <p class="hint" id="expiry-hint">{{expiryHint}}</p>
    <button type="submit">Generate key</button>
    </form>
    </section>
    <section aria-labelledby="mine-heading">
    <h2 id="mine-heading">Your keys</h2>
    <div class="table-wrap">
    <table class="data hub">
    <caption>Keys you own</caption>
    <thead><tr><th scope="col">Name</th><th scope="col">ID</th><th scope="col">Last updated</th><th scope="col">Created</th><th scope="col">Expiry</th><th scope="col">Last used</th><th scope="col">Status</th><th scope="col">Actions</th></tr></thead>
    <tbody>
    {{#keys}}
    <tr id="row-{{id}}" data-key-id="{{id}}">
    <td data-label="Name" class="name">{{name}}</td>
    <td data-label="ID"><code>{{id}}</code></td>
    <td data-label="Last updated">{{updated}}</td>
    <td data-label="Created">{{created}}</td>
    <td data-label="Expiry">{{expires}}</td>
    <td data-label="Last used">{{lastUsed}}</td>
    <td data-label="Status"><span class="badge badge-{{statusClass}}">{{status}}</span></td>
    <td data-label="Actions"><div class="row-actions">
    <details class="rowmenu"><summary>Rename<span class="visually-hidden"> {{id}}</span></summary>
    <form method="post" action="/hub/keys/rename" class="stack">
    <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key_id" value="{{id}}">
    <label for="rename-{{id}}">New name</label><input id="rename-{{id}}" name="name" required maxlength="256" value="{{name}}">
    <button type="submit">Save name</button>
    </form></details>
    {{#active}}<form method="post" action="/hub/keys/revoke"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key_id" value="{{id}}"><button type="submit" class="danger">Revoke…<span class="visually-hidden"> {{id}}</span></button></form>{{/active}}
    <form method="post" action="/hub/keys/delete"><input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="key_id" value="{{id}}"><button type="submit" class="danger">Delete…<span class="visually-hidden"> {{id}}</span></button></form>
    </div></td>
    </tr>
    {{/keys}}
    {{^keys}}<tr><td colspan="8">You have no keys yet.</td></tr>{{/keys}}
    </tbody>
    </table>
    </div>
    </section>
    """

    static let secret = """
    <h1>Your new API key</h1>
    {{#created}}
    <p class="warning" role="alert"><strong>Copy the secret now: it is shown only this once.</strong> apikeys keeps only a hash of it and can never show it again (R18). If you lose it, revoke the key and generate another.</p>
    <dl class="facts"><dt>Name</dt><dd id="new-key-name">{{keyName}}</dd><dt>Key ID</dt><dd><code id="new-key-id">{{keyID}}</code></dd><dt>Expires</dt><dd>{{expires}}</dd></dl>
    <label for="secret">Secret</label>
    <div class="secret-row"><input id="secret" class="secret" readonly value="{{secret}}" autocomplete="off" spellcheck="false">
    <button type="button" class="copy" data-copy-from="secret" id="copy-secret">Copy secret</button></div>
    <p><a href="/hub/keys">I have copied it: back to my keys</a></p>
    {{/created}}
    {{^created}}
    <p class="warning" role="alert" id="secret-gone">This key's secret was shown once and cannot be shown again (R18). If you did not copy it, revoke the key and generate another.</p>
    <p><a href="/hub/keys">Back to my keys</a></p>
    {{/created}}
    """

    static let hubConfirm = """
    <h1>{{heading}}</h1>
    <p class="warning" role="alert"><strong>{{warning}}</strong></p>
    <ul class="keylist"><li><code>{{keyID}}</code> {{keyName}}</li></ul>
    <form method="post" action="{{action}}" class="stack">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <input type="hidden" name="key_id" value="{{keyID}}">
    <input type="hidden" name="confirmed" value="yes">
    {{#askReason}}<label for="reason">Reason (optional, recorded in the events)</label><input id="reason" name="reason" maxlength="512">{{/askReason}}
    <div class="actions"><button type="submit" class="danger" id="confirm">{{button}}</button> <a href="/hub/keys">Cancel</a></div>
    </form>
    """
}
