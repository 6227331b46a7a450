// apikeys console: copy buttons and the select-all box. Everything works without it:
// the secret and key IDs are visible text, and confirmations are pages, not dialogs.
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
