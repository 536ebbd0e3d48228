/* "Take it with you": readings and guides whose licence allows it (`offline_hours` in the catalog) saved to
   the passenger's device, for after landing, through the service worker (sw.js) and the Cache API (keep.js),
   and the "Saved" view (a dialog from the Read and Guides tabs): what is kept and until when, removed when its
   time is up. Only over HTTPS where the browser has a secure context, service workers and the Cache API (not
   the captive mini-browser): elsewhere no Save button and no Saved view. ES5; see core.js. */
(function () {
  "use strict";
  var C = window.Cabin, state = C.state, $ = C.$, t = C.t, el = C.el, button = C.button, Keep = C.keep;
  var SWEEP_MS = 30000;

  /* HTTPS only: http://localhost is a secure context too, but the portal's plain HTTP is for the captive
     probes and what has no certificate yet; nothing kept there would open under the HTTPS name after landing */
  function supported() {
    return !!(window.location.protocol === "https:" && window.isSecureContext && navigator.serviceWorker &&
              window.caches && window.fetch && window.Promise);
  }
  function when(ms) {
    var d = new Date(ms);
    if (window.Intl && Intl.DateTimeFormat) {
      try { return new Intl.DateTimeFormat(state.lang, { dateStyle: "medium", timeStyle: "short" }).format(d); }
      catch (e) { /* an older Intl */ }
    }
    return d.toLocaleString();
  }
  function hours(h) {
    if (window.Intl && Intl.NumberFormat) {
      try { return new Intl.NumberFormat(state.lang, { style: "unit", unit: "hour", unitDisplay: "long" }).format(h); }
      catch (e) { /* no unit formatting */ }
    }
    return h + " h";
  }
  function urlsOf(item) {
    var urls = [], f = item.files || {};
    ["pdf", "html"].forEach(function (k) { if (f[k]) { urls.push(f[k]); } });
    (f.pages || []).forEach(function (p) { urls.push(p); });
    if (item.thumbnail) { urls.push(item.thumbnail); }
    return urls.filter(function (u, i) { return urls.indexOf(u) === i; });
  }
  function stamped(response, ms) {  /* the response as kept: its own headers (CSP...) and its time */
    return response.blob().then(function (body) {
      var headers = new Headers(response.headers);
      headers["delete"]("Accept-Ranges");  /* a range cannot be answered from a whole copy: ask for all of it */
      headers.set("X-Saved-Until", String(ms));
      return new Response(body, { status: 200, statusText: "OK", headers: headers });
    });
  }

  /* Keep `item`'s files and its record until now + its licence's hours. The record is written last: a save
     cut short leaves files that the next sweep removes, never a record of something not all there. */
  function save(item) {
    var now = Date.now(), until = now + item.offline_hours * 3600 * 1000, urls = urlsOf(item);
    return navigator.serviceWorker.ready.then(function () { return caches.open(Keep.SAVED); }).then(function (cache) {
      return Promise.all(urls.map(function (url) {
        return Promise.all([fetch(url, { cache: "no-store", credentials: "same-origin" }), cache.match(url)])
          .then(function (got) {
            var response = got[0];
            if (response.status !== 200) { throw new Error(url + ": " + response.status); }
            return stamped(response, Math.max(until, Keep.until(got[1])));
          }).then(function (kept) { return cache.put(url, kept); });
      })).then(function () {
        var record = { id: item.id, kind: item.kind, title: item.title, category: item.category_name || item.category,
                       files: item.files, thumbnail: item.thumbnail || null, urls: urls, hours: item.offline_hours,
                       saved: now, until: until };
        return cache.put(Keep.META + encodeURIComponent(item.id), new Response(JSON.stringify(record), {
          headers: { "Content-Type": "application/json", "X-Saved-Until": String(until) } }));
      });
    });
  }
  function remove(id) {
    return caches.open(Keep.SAVED).then(function (cache) { return cache["delete"](Keep.META + encodeURIComponent(id)); })
      .then(function () { return Keep.sweep(Date.now()); });
  }

  /* ---- what the page shows ----------------------------------------------------------------------------- */
  function refresh() {
    if (!supported()) { return Promise.resolve(); }
    return Keep.sweep(Date.now()).then(Keep.list).then(function (records) {
      var before = state.saved ? state.saved.map(function (r) { return r.id; }).join() : null;
      state.saved = records;
      render();
      if (state.catalog && before !== records.map(function (r) { return r.id; }).join()) { C.renderCatalog(); }
    }, function () { /* no Cache API after all (a private window): nothing kept */ });
  }
  function isSaved(id) {
    return (state.saved || []).some(function (r) { return r.id === id; });
  }
  /* On a catalog card: "Save for after landing" and how long it may be kept, or that it is saved. */
  function saveControls(item, actions, body) {
    if (!item.savable || !item.offline_hours || !supported() || !state.saved) { return; }
    body.appendChild(el("p", "keep", t("save_hours").replace("{d}", hours(item.offline_hours))));
    var saved = isSaved(item.id);
    var b = button(saved ? t("saved_done") : t("save_offline"), function () {
      b.disabled = true;
      b.textContent = t("saving");
      save(item).then(refresh, function () {
        b.disabled = false;
        b.textContent = t("save_offline");
        body.appendChild(el("p", "status error", t("save_failed")));
        Keep.sweep(Date.now());
      });
    }, true);
    b.disabled = saved;
    b.setAttribute("data-save", item.id);
    actions.appendChild(b);
  }
  function savedCard(saved) {
    /* in the passenger's language when the catalog is there (on board), else as it was when saved */
    var now = state.catalog && state.catalog.items.filter(function (i) { return i.id === saved.id; })[0];
    var record = now ? { id: saved.id, kind: saved.kind, title: now.title, category: now.category_name || saved.category,
                         files: saved.files, thumbnail: saved.thumbnail, until: saved.until } : saved;
    var li = el("li", "card");
    li.setAttribute("data-saved", record.id);
    if (record.thumbnail) { var img = el("img"); img.src = record.thumbnail; img.alt = ""; li.appendChild(img); }
    var body = el("div", "body"), title = el("h3", "", record.title);
    title.id = "saved-title-" + record.id;
    body.appendChild(el("div", "meta", record.category));
    body.appendChild(title);
    var until = el("p", "until", t("saved_until").replace("{time}", when(record.until)));
    until.setAttribute("data-until", new Date(record.until).toISOString());
    body.appendChild(until);
    li.appendChild(body);
    var actions = el("div", "actions"), f = record.files || {}, href = f.pdf || f.html;
    if (f.pages && f.pages.length) {
      var read = button(t("open"), function () { C.openReader(record, read); });
      read.setAttribute("aria-haspopup", "dialog");
      actions.appendChild(read);
    } else if (href) { var a = el("a", "button", t("open")); a.href = href; a.target = "_blank"; a.rel = "noopener"; actions.appendChild(a); }
    actions.appendChild(button(t("saved_remove"), function () { remove(record.id).then(refresh); }, true));
    for (var i = 0; i < actions.children.length; i++) { actions.children[i].setAttribute("aria-describedby", title.id); }
    li.appendChild(actions);
    return li;
  }
  function render() {
    var list = $("list-saved");
    if (!state.strings || !state.saved) { return; }
    list.innerHTML = "";
    state.saved.forEach(function (r) { list.appendChild(savedCard(r)); });
    if (!state.saved.length) { list.appendChild(el("li", "empty", t("saved_empty"))); }
    var counts = document.querySelectorAll(".saved-count"), i;
    for (i = 0; i < counts.length; i++) { counts[i].textContent = state.saved.length ? "(" + state.saved.length + ")" : ""; }
  }
  var opener = null;
  function openSaved(from) {
    opener = from || null;
    $("saved").hidden = false;
    $("saved-close").focus();
  }
  function closeSaved() {
    $("saved").hidden = true;
    if (opener && document.body.contains(opener)) { opener.focus(); }
  }
  /* No catalog (no cabin server: after landing): say so, and open what was saved. */
  function catalogUnavailable() {
    if (!supported() || !state.saved || !state.saved.length || state.offlineShown) { return; }
    state.offlineShown = true;
    /* the app came from the device: its page is in the language of the last visit, not the last choice */
    var chosen = C.load("lang");
    if (chosen && chosen !== state.lang) { C.setLang(chosen); }
    $("saved-offline").hidden = false;
    C.selectTab("read");
    openSaved(document.querySelector("#panel-read .saved-open"));
  }
  function setupSaved() {
    if (!supported()) { return; }
    var bars = document.querySelectorAll(".saved-bar"), i;
    for (i = 0; i < bars.length; i++) {
      bars[i].hidden = false;
      (function (b) { b.onclick = function () { openSaved(b); }; })(bars[i].getElementsByTagName("button")[0]);
    }
    $("saved-close").onclick = closeSaved;
    $("saved").onkeydown = function (e) { if (C.keyOf(e) === "Escape" && !state.reader) { closeSaved(); } };
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).then(null, function () { /* stays online-only */ });
    refresh().then(function () { if (state.catalogFailed) { catalogUnavailable(); } });
    setInterval(refresh, SWEEP_MS);  /* what expires while the app is open goes from the list */
  }

  C.saveControls = saveControls;
  C.renderSaved = render;
  C.setupSaved = setupSaved;
  C.catalogUnavailable = catalogUnavailable;
  C.refreshSaved = refresh;
})();
