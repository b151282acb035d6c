// weir dashboard script: live refresh of the parts marked data-live, and
// confirmations for destructive forms. Pages read fine without it.
(function () {
  "use strict";
  // At most one request a second per open page, and none while it is hidden.
  var PERIOD_MS = 1000;
  var busy = false;

  function interacting(el) {
    var a = document.activeElement;
    return a && a !== document.body && el.contains(a);
  }

  function refresh() {
    var live = document.querySelectorAll("[data-live][id]");
    if (!live.length || document.hidden || busy) return;
    busy = true;
    fetch(window.location.href, { headers: { "X-Weir-Live": "1" }, credentials: "same-origin", redirect: "error" })
      .then(function (r) {
        if (!r.ok) throw new Error("status " + r.status);
        return r.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/html");
        live.forEach(function (el) {
          var next = doc.getElementById(el.id);
          if (next && !interacting(el)) el.replaceWith(document.importNode(next, true));
        });
        document.documentElement.removeAttribute("data-stale");
      })
      .catch(function () {
        document.documentElement.setAttribute("data-stale", "1");
      })
      .finally(function () {
        busy = false;
      });
  }

  document.addEventListener("submit", function (e) {
    var form = e.target;
    var q = form.getAttribute("data-confirm");
    if (q && !window.confirm(q)) e.preventDefault();
  });

  // Select-all boxes: a checkbox with data-select-all="NAME" toggles every box named NAME.
  document.addEventListener("change", function (e) {
    var name = e.target.getAttribute && e.target.getAttribute("data-select-all");
    if (!name) return;
    document.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (b) {
      b.checked = e.target.checked;
    });
  });

  window.setInterval(refresh, PERIOD_MS);
})();
