/// The stylesheet and the one script, served from `/static/` (same origin, as the
/// Content-Security-Policy requires).
enum StaticAssets {
    /// Copy buttons and the select-all box. Everything works without it: the secret and
    /// key IDs are visible text, and confirmations are pages, not dialogs.
    static let script = """
    "use strict";
    document.addEventListener("DOMContentLoaded", function () {
      function copyText(text, button) {
        function done(ok) {
          var old = button.getAttribute("data-label") || button.textContent;
          button.setAttribute("data-label", old);
          button.textContent = ok ? "Copied" : "Select and copy by hand";
          button.classList.toggle("copied", ok);
          setTimeout(function () { button.textContent = old; button.classList.remove("copied"); }, 4000);
        }
        function fallback() {
          var area = document.createElement("textarea");
          area.value = text;
          area.setAttribute("readonly", "");
          area.className = "offscreen";
          document.body.appendChild(area);
          area.select();
          var ok = false;
          try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
          document.body.removeChild(area);
          done(ok);
        }
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(function () { done(true); }, fallback);
        } else {
          fallback();
        }
      }
      document.querySelectorAll("button.copy").forEach(function (button) {
        button.addEventListener("click", function () {
          var from = button.getAttribute("data-copy-from");
          var text = from ? document.getElementById(from).value : button.getAttribute("data-copy");
          copyText(text, button);
        });
      });
      document.querySelectorAll("input[data-select-all]").forEach(function (all) {
        var name = all.getAttribute("data-select-all");
        all.addEventListener("change", function () {
          document.querySelectorAll("input[type=checkbox][name='" + name + "']").forEach(function (box) {
            box.checked = all.checked;
          });
        });
      });
    });
    """

    static let stylesheet = """
    :root { --ink: #1d2330; --muted: #5b6475; --line: #d8dce3; --bg: #f6f7f9; --accent: #2453c7;
      --danger: #b3261e; --ok: #1e7a3c; --warn: #8a5a00; font-family: system-ui, -apple-system, "Segoe UI", sans-serif; }
    * { box-sizing: border-box; }
    body { margin: 0; color: var(--ink); background: var(--bg); line-height: 1.45; }
    a { color: var(--accent); }
    a:focus-visible, button:focus-visible, input:focus-visible, select:focus-visible, summary:focus-visible {
      outline: 3px solid #f0b400; outline-offset: 2px; }
    .skip { position: absolute; left: -999px; top: 0; background: #fff; padding: .5rem; }
    .skip:focus { left: .5rem; z-index: 10; }
    .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
    .offscreen { position: fixed; left: -9999px; top: 0; }
    .dev-banner { background: #ffdd00; color: #000; padding: .6rem 1rem; text-align: center; border-bottom: 3px solid #000; }
    header.top { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1.5rem; padding: .75rem 1.25rem;
      background: #fff; border-bottom: 1px solid var(--line); }
    .brand { font-weight: 700; text-decoration: none; color: var(--ink); font-size: 1.1rem; }
    .brand span { color: var(--muted); font-weight: 400; }
    nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
    nav a { text-decoration: none; padding: .35rem .1rem; }
    nav a[aria-current="page"] { font-weight: 700; border-bottom: 3px solid var(--accent); }
    .who { margin-left: auto; display: flex; align-items: center; gap: .75rem; color: var(--muted); }
    .who form { margin: 0; }
    main { max-width: 76rem; margin: 0 auto; padding: 1rem 1.25rem 3rem; }
    h1 { font-size: 1.6rem; margin: .75rem 0 .5rem; }
    h2 { font-size: 1.2rem; }
    .lede, .meta, .hint { color: var(--muted); }
    .hint { font-size: .9rem; margin: .25rem 0 0; }
    .card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 1rem 1.25rem; margin-bottom: 1.5rem; }
    .stack { display: flex; flex-direction: column; gap: .4rem; max-width: 34rem; }
    .stack button { align-self: flex-start; margin-top: .5rem; }
    .field { margin-bottom: 1rem; display: flex; flex-direction: column; gap: .3rem; }
    .field.check { flex-direction: row; flex-wrap: wrap; align-items: center; }
    .field.check .hint { flex-basis: 100%; }
    .inline { display: flex; gap: .5rem; }
    label { font-weight: 600; }
    input, select, button { font: inherit; }
    input[type=text], input:not([type]), input[type=search], input[type=number], input[type=datetime-local], select {
      padding: .45rem .55rem; border: 1px solid #9aa3b2; border-radius: 6px; background: #fff; min-width: 0; }
    input[type=checkbox] { width: 1.15rem; height: 1.15rem; }
    button { padding: .45rem .9rem; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; }
    button.danger { background: #fff; color: var(--danger); border-color: var(--danger); }
    button.link { background: none; border: none; color: var(--accent); text-decoration: underline; padding: 0; }
    button.copy { background: #fff; color: var(--accent); }
    button.copied { background: var(--ok); color: #fff; border-color: var(--ok); }
    .filters { display: flex; flex-wrap: wrap; gap: .75rem; align-items: flex-end; background: #fff; border: 1px solid var(--line);
      border-radius: 8px; padding: .75rem 1rem; margin-bottom: 1rem; }
    .filters > div { display: flex; flex-direction: column; gap: .25rem; }
    .table-wrap { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; }
    table.data { width: 100%; border-collapse: collapse; font-size: .95rem; }
    table.data caption { text-align: left; padding: .6rem .75rem; color: var(--muted); }
    table.data th, table.data td { padding: .5rem .75rem; border-top: 1px solid var(--line); text-align: left; vertical-align: top; }
    table.data th a { color: var(--ink); }
    code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: .88em; word-break: break-all; }
    .badge { display: inline-block; padding: .1rem .55rem; border-radius: 999px; font-size: .8rem; font-weight: 700; border: 1px solid; }
    .badge-active, .badge-revoked-ok, .badge-success { color: var(--ok); background: #e6f4ea; }
    .badge-expired, .badge-not-active, .badge-denied { color: var(--warn); background: #fff4d6; }
    .badge-revoked, .badge-failure, .badge-not-found { color: var(--danger); background: #fde8e7; }
    .badge-unknown, .badge-role { color: var(--muted); background: #eef0f4; }
    .notice { background: #e6f4ea; border: 1px solid var(--ok); padding: .6rem .9rem; border-radius: 6px; }
    .error { background: #fde8e7; border: 1px solid var(--danger); padding: .6rem .9rem; border-radius: 6px; }
    .warning { background: #fff4d6; border: 1px solid var(--warn); padding: .6rem .9rem; border-radius: 6px; }
    .dev-note { background: #fffbe0; border: 1px dashed #8a7a00; padding: .5rem .75rem; }
    .bulk { margin: .75rem 0; }
    .pager { display: flex; gap: 1rem; margin-top: .75rem; }
    details.rowmenu summary { cursor: pointer; color: var(--accent); }
    details.rowmenu[open] { padding-bottom: .3rem; }
    details.rowmenu button, .row-actions form { margin-top: .3rem; }
    .row-actions { display: flex; flex-wrap: wrap; gap: .4rem; align-items: flex-start; }
    .row-actions form { margin: 0; }
    .event-details dl { display: grid; grid-template-columns: max-content 1fr; gap: .2rem .75rem; margin: .5rem 0; }
    .event-details dt { color: var(--muted); }
    .event-details dd { margin: 0; word-break: break-word; }
    .event-key { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
    .facts { display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }
    .facts dd { margin: 0; }
    .secret-row { display: flex; gap: .5rem; flex-wrap: wrap; margin: .3rem 0 1rem; }
    input.secret { flex: 1 1 28rem; font-family: ui-monospace, "DejaVu Sans Mono", monospace; padding: .5rem; border: 2px solid var(--warn); border-radius: 6px; }
    .keylist { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: .75rem 2rem; }
    .actions { display: flex; gap: 1rem; align-items: center; margin-top: .5rem; }
    /* Phone width: tables become one card per row, each cell labelled by its column. */
    @media (max-width: 760px) {
      header.top { padding: .6rem .8rem; }
      .who { margin-left: 0; }
      main { padding: .75rem .8rem 2rem; }
      table.data thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
      table.data tr { display: block; border-top: 1px solid var(--line); padding: .4rem 0; }
      table.data td { display: grid; grid-template-columns: 8.5rem 1fr; gap: .5rem; border: none; padding: .25rem .75rem; }
      table.data td[data-label]::before { content: attr(data-label); font-weight: 600; color: var(--muted); }
      table.data td > .badge { justify-self: start; }
      .filters > div, .filters input, .filters select { width: 100%; }
    }
    """
}
