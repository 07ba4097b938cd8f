/* kunskap embed: turns <div data-kunskap-search data-api="https://kunskap.example"></div> on any
   site into a Swedish search box with results from the kunskap JSON API (CORS allow-list:
   KUNSKAP_CORS_ORIGINS). No dependencies; results are built with DOM methods, and the only
   markup taken from the API is the snippet's <mark> highlighting, rebuilt element by element. */
(function () {
  "use strict";
  var counter = 0;

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var key in attrs || {}) node.setAttribute(key, attrs[key]);
    if (text != null) node.textContent = text;
    return node;
  }

  function snippet(html) {
    // The API escapes text and wraps matches in <mark>; rebuild without innerHTML.
    var p = el("p", { "class": "kunskap-snippet" });
    var parts = String(html || "").split(/(<mark>.*?<\/mark>)/);
    var decoder = document.createElement("textarea");
    parts.forEach(function (part) {
      var isMark = /^<mark>/.test(part);
      decoder.innerHTML = part.replace(/<\/?mark>/g, "");
      var text = decoder.value;
      p.appendChild(isMark ? el("mark", null, text) : document.createTextNode(text));
    });
    return p;
  }

  function mount(root) {
    var api = (root.getAttribute("data-api") || "").replace(/\/$/, "");
    var limit = root.getAttribute("data-limit") || "5";
    var id = "kunskap-q-" + (++counter);
    var form = el("form", { role: "search", "class": "kunskap-form" });
    var label = el("label", { "for": id }, root.getAttribute("data-label") || "Sök bland kommunernas klimatexempel");
    var input = el("input", { id: id, type: "search", name: "q", maxlength: "2000", autocomplete: "off" });
    var button = el("button", { type: "submit" }, "Sök");
    var status = el("p", { "class": "kunskap-status", role: "status", "aria-live": "polite" });
    var list = el("ol", { "class": "kunskap-results" });
    form.appendChild(label); form.appendChild(input); form.appendChild(button);
    root.appendChild(form); root.appendChild(status); root.appendChild(list);

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var q = input.value.trim();
      list.textContent = "";
      if (!q) { status.textContent = "Skriv ett eller flera sökord."; return; }
      status.textContent = "Söker …";
      fetch(api + "/api/v1/search?" + new URLSearchParams({ q: q, limit: limit }), { headers: { Accept: "application/json" } })
        .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
        .then(function (res) {
          if (!res.ok) { status.textContent = (res.body.error && res.body.error.message) || "Sökningen misslyckades."; return; }
          var b = res.body;
          var prefix = b.searched_for ? "Visar resultat för ”" + b.searched_for + "”. " : "";
          status.textContent = prefix + (b.total === 1 ? "1 träff" : b.total + " träffar") + (b.hint && !b.total ? ". " + b.hint : "");
          b.results.forEach(function (hit) {
            var li = el("li", { "class": "kunskap-result" });
            var h = el("h3");
            h.appendChild(el("a", { href: api + hit.url }, hit.title));
            li.appendChild(h);
            li.appendChild(el("p", { "class": "kunskap-meta" }, [hit.organisation, hit.county, hit.year].filter(Boolean).join(" · ")));
            li.appendChild(snippet(hit.snippet));
            list.appendChild(li);
          });
        })
        .catch(function () { status.textContent = "Kunde inte nå kunskapsbanken just nu."; });
    });
  }

  function init() {
    var roots = document.querySelectorAll("[data-kunskap-search]");
    for (var i = 0; i < roots.length; i++) if (!roots[i].getAttribute("data-kunskap-ready")) {
      roots[i].setAttribute("data-kunskap-ready", "1");
      mount(roots[i]);
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init); else init();
})();
