/* The web app's flight panel, live data, language, tabs and start; the last of the scripts index.html loads.
   ES5; see core.js. */
(function () {
  "use strict";
  var C = window.Cabin, doc = document, root = doc.documentElement, state = C.state, $ = C.$, xhr = C.xhr, t = C.t;
  var store = C.store, load = C.load;
  var LANGS = ["en", "es", "ca", "fr", "de"];

  /* ---- language -------------------------------------------------------------------------------------- */
  function applyStrings() {
    var nodes = doc.querySelectorAll("[data-t]"), i;
    for (i = 0; i < nodes.length; i++) { nodes[i].textContent = t(nodes[i].getAttribute("data-t")); }
    nodes = doc.querySelectorAll("[data-t-label]");
    for (i = 0; i < nodes.length; i++) { nodes[i].setAttribute("aria-label", t(nodes[i].getAttribute("data-t-label"))); }
    root.lang = state.lang;
    doc.title = t("app_title");
    $("lang-select").value = state.lang;
    renderFlight();
    C.renderCatalog();  /* and the open reader */
    C.renderSaved();
  }
  function setLang(lang) {
    if (LANGS.indexOf(lang) < 0) { return; }
    state.lang = lang;
    store("lang", lang);
    doc.cookie = "lang=" + lang + "; path=/; max-age=86400; samesite=lax";
    applyStrings();
    C.loadCatalog();
    C.renderOrders();
  }

  /* ---- flight panel ---------------------------------------------------------------------------------- */
  function setCell(name, text, status) {
    var dd = $("v-" + name).getElementsByTagName("dd")[0];
    if (text === null) {
      dd.textContent = t("unavailable");
      dd.className = "unavailable";
      dd.setAttribute("data-status", status || "unavailable");
    } else {
      dd.textContent = text;
      dd.className = "";
      dd.setAttribute("data-status", "normal");
    }
  }
  /* no flight document for this long (server failing, stream silent, Wi-Fi gone): what is on screen is no
     longer current, so its values show as unavailable, never as current */
  var STALE_MS = 10000;
  function outdated() { return Date.now() - state.flightAt > STALE_MS; }
  function outdatedCopy(f) {  /* the flight and route as they were; every value unavailable */
    var gone = { value: null, status: "stale" }, copy = {}, k;
    for (k in f) { if (Object.prototype.hasOwnProperty.call(f, k)) { copy[k] = f[k]; } }
    copy.parameters = {};
    for (k in f.parameters) { if (Object.prototype.hasOwnProperty.call(f.parameters, k)) { copy.parameters[k] = gone; } }
    copy.progress = { time_to_go: gone, distance_to_go: gone, percent_complete: gone,
                      eta: { utc: null, local: null, status: "stale" } };
    copy.time = { destination_local: null };
    return copy;
  }
  function renderFlight() {
    if (!state.flight || !state.strings) { return; }
    state.shownOutdated = outdated();
    var f = state.shownOutdated ? outdatedCopy(state.flight) : state.flight;
    renderLive();
    var p = f.parameters, g = f.progress, fl = f.flight || {};
    var o = fl.origin || {}, d = fl.destination || {};
    $("f-number").textContent = fl.flight_number || "\u2013";
    $("f-origin-code").textContent = o.iata || o.icao || "\u2013";
    $("f-origin-city").textContent = o.city || "";
    $("f-dest-code").textContent = d.iata || d.icao || "\u2013";
    $("f-dest-city").textContent = d.city || "";
    $("f-phase").textContent = t("phase_" + (f.phase || "unknown")) === "phase_" + f.phase ? t("phase_unknown") : t("phase_" + (f.phase || "unknown"));
    ["altitude", "ground_speed", "outside_temperature"].forEach(function (n) {
      var v = p[n];
      setCell(n, v && v.value !== null ? C.formatValue(n, v.value) : null, v && v.status);
    });
    ["time_to_go", "distance_to_go"].forEach(function (n) {
      setCell(n, g[n].value !== null ? C.formatValue(n, g[n].value) : null, g[n].status);
    });
    setCell("destination_time", C.clock(f.time.destination_local), f.time.destination_local ? "normal" : "unavailable");
    setCell("eta", C.clock(g.eta.local), g.eta.status);
    var pct = g.percent_complete.value;
    var bar = $("progress-bar");
    bar.style.width = (pct === null ? 0 : pct) + "%";
    bar.setAttribute("aria-valuenow", pct === null ? 0 : Math.round(pct));
    C.drawMap();
  }
  function onFlight(doc_) {
    state.flight = doc_;
    state.flightAt = Date.now();
    if (doc_.position) {
      var last = state.track[state.track.length - 1];
      if (!last || last[0] !== doc_.position.lat || last[1] !== doc_.position.lon) {
        state.track.push([doc_.position.lat, doc_.position.lon]);
        if (state.track.length > 4000) { state.track = state.track.slice(-3000); }
      }
    }
    state.live = true;
    renderFlight();
  }
  function renderLive() {
    var live = $("live");
    live.textContent = state.live ? t("live") : t("connection_lost");
    live.className = state.live ? "live ok" : "live";
  }

  /* ---- live data: EventSource where there is one, polling where not ------------------------------------ */
  function poll() {
    xhr("GET", "/api/v1/flight", null, function (status, data) {
      if (status === 200 && data) { onFlight(data); } else { lost(); }
      setTimeout(poll, 2000);
    });
  }
  function lost() { state.live = false; if (state.strings) { renderLive(); } }
  function startLive() {
    if (!window.EventSource || load("poll") === "1") { poll(); return; }
    var es = new EventSource("/api/v1/flight/stream"), failures = 0;
    es.addEventListener("flight", function (e) { failures = 0; try { onFlight(JSON.parse(e.data)); } catch (x) { /* skip */ } });
    es.onerror = function () {
      failures += 1;
      lost();
      if (failures > 3) { es.close(); poll(); }
    };
  }

  /* ---- tabs -------------------------------------------------------------------------------------------- */
  function selectTab(name) {
    var tabs = doc.querySelectorAll("[role=tab]"), i;
    for (i = 0; i < tabs.length; i++) {
      var id = tabs[i].id.slice(4), on = id === name;
      tabs[i].setAttribute("aria-selected", on ? "true" : "false");
      tabs[i].tabIndex = on ? 0 : -1;
      $("panel-" + id).hidden = !on;
    }
  }
  function setupTabs() {
    var tabs = doc.querySelectorAll("[role=tab]"), i;
    for (i = 0; i < tabs.length; i++) {
      (function (tab) {
        tab.onclick = function () { selectTab(tab.id.slice(4)); };
        tab.onkeydown = function (e) {
          var visible = [], j;
          for (j = 0; j < tabs.length; j++) { if (!tabs[j].hidden) { visible.push(tabs[j]); } }
          var k = visible.indexOf(tab);
          var key = C.keyOf(e);
          if (key === "ArrowRight" || key === "ArrowLeft") {
            var next = visible[(k + (key === "ArrowRight" ? 1 : visible.length - 1)) % visible.length];
            next.focus(); selectTab(next.id.slice(4)); e.preventDefault();
          }
        };
      })(tabs[i]);
    }
    if (state.ground) { $("tab-watch").hidden = true; $("reset-box").hidden = false; }
    selectTab("flight");
  }

  /* ---- start ------------------------------------------------------------------------------------------- */
  function start() {
    C.setupUnits();
    $("lang-select").onchange = function () { setLang(this.value); };
    C.setupOrders();
    C.setupPay();
    $("player-close").onclick = C.closePlayer;
    setupTabs();
    C.setupReader();
    C.setupSaved();
    xhr("GET", "/static/i18n.json", null, function (status, data) {
      if (status === 200 && data) { state.strings = data; applyStrings(); }
    });
    xhr("GET", "/static/vendor/countries-110m.json", null, function (status, data) {
      if (status === 200 && data) { state.world = data; state.view = null; C.drawMap(); }
    });
    xhr("GET", "/api/v1/flight/track", null, function (status, data) {
      if (status === 200 && data && data.points) { state.track = data.points.concat(state.track); C.drawMap(); }
    });
    C.loadCatalog();
    startLive();
    setInterval(function () {  /* the stale watch: redraw once when the shown document becomes outdated */
      if (state.flight && outdated() && !state.shownOutdated) { state.live = false; renderFlight(); }
    }, 1000);
  }

  C.renderFlight = renderFlight;
  C.selectTab = selectTab;
  C.setLang = setLang;
  start();
})();
