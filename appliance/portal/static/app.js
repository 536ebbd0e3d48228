/* The on-board web app. ES5 on purpose: it must run in limited sign-in mini-browsers. Every request goes to
   the portal itself (same origin); nothing leaves the aircraft. */
(function () {
  "use strict";
  var doc = document, root = doc.documentElement;
  var LANGS = ["en", "es", "ca", "fr", "de"];
  var state = { lang: root.lang || "en", units: null, strings: null, flight: null, track: [],
                world: null, view: null, catalog: null, order: null, reader: null, ground: root.getAttribute("data-profile") === "ground" };

  function $(id) { return doc.getElementById(id); }
  function xhr(method, url, body, done) {
    var r = new XMLHttpRequest();
    r.open(method, url, true);
    if (body !== null) { r.setRequestHeader("Content-Type", "application/json"); }
    r.onreadystatechange = function () {
      if (r.readyState !== 4) { return; }
      var data = null;
      try { data = JSON.parse(r.responseText); } catch (e) { data = null; }
      done(r.status, data);
    };
    r.send(body === null ? null : JSON.stringify(body));
  }
  function t(key) {
    var s = state.strings;
    if (!s) { return key; }
    return (s[state.lang] && s[state.lang][key]) || s.en[key] || key;
  }
  function store(key, value) { try { window.localStorage.setItem(key, value); } catch (e) { /* private mode */ } }
  function forget(key) { try { window.localStorage.removeItem(key); } catch (e) { /* private mode */ } }
  function load(key) { try { return window.localStorage.getItem(key); } catch (e) { return null; } }

  /* ---- language and units ---------------------------------------------------------------------------- */
  function applyStrings() {
    var nodes = doc.querySelectorAll("[data-t]"), i;
    for (i = 0; i < nodes.length; i++) { nodes[i].textContent = t(nodes[i].getAttribute("data-t")); }
    nodes = doc.querySelectorAll("[data-t-label]");
    for (i = 0; i < nodes.length; i++) { nodes[i].setAttribute("aria-label", t(nodes[i].getAttribute("data-t-label"))); }
    root.lang = state.lang;
    doc.title = t("app_title");
    $("lang-select").value = state.lang;
    renderFlight();
    renderCatalog();  /* and the open reader */
  }
  function setLang(lang) {
    if (LANGS.indexOf(lang) < 0) { return; }
    state.lang = lang;
    store("lang", lang);
    doc.cookie = "lang=" + lang + "; path=/; max-age=86400; samesite=lax";
    applyStrings();
    loadCatalog();
  }
  /* Each shown value's units, per value: [factor, offset, symbol] from the unit the API gives (ft, kt, degC, km).
     The passenger picks one per value; the presets set all four at once. */
  var UNITS = {
    altitude: { ft: [1, 0, "ft"], m: [0.3048, 0, "m"] },
    ground_speed: { kt: [1, 0, "kt"], kmh: [1.852, 0, "km/h"], mph: [1.150779, 0, "mph"] },
    outside_temperature: { C: [1, 0, "\u00B0C"], F: [1.8, 32, "\u00B0F"] },
    distance_to_go: { km: [1, 0, "km"], mi: [0.621371, 0, "mi"], nm: [0.539957, 0, "NM"] }
  };
  var PRESETS = {
    metric: { altitude: "m", ground_speed: "kmh", outside_temperature: "C", distance_to_go: "km" },
    imperial: { altitude: "ft", ground_speed: "kt", outside_temperature: "F", distance_to_go: "mi" }
  };
  var QUANTITIES = ["altitude", "ground_speed", "outside_temperature", "distance_to_go"];
  function own(obj, key) { return key !== null && Object.prototype.hasOwnProperty.call(obj, key); }
  function presetOf(units) {
    var names = Object.keys(PRESETS).filter(function (name) {
      return QUANTITIES.every(function (q) { return PRESETS[name][q] === units[q]; });
    });
    return names.length ? names[0] : "custom";
  }
  function setUnit(name, unit) {
    if (!own(UNITS[name], unit)) { return; }
    state.units[name] = unit;
    store("unit_" + name, unit);
  }
  function showUnits() {
    $("units-select").value = presetOf(state.units);
    QUANTITIES.forEach(function (q) { $("unit-" + q).value = state.units[q]; });
    renderFlight();
  }
  function loadUnits() {
    var legacy = load("units");  /* before per-value units: one "metric" or "imperial" for all */
    state.units = {};
    QUANTITIES.forEach(function (q) { state.units[q] = PRESETS.metric[q]; });
    if (own(PRESETS, legacy)) {
      QUANTITIES.forEach(function (q) { setUnit(q, PRESETS[legacy][q]); });
      forget("units");
    }
    QUANTITIES.forEach(function (q) { var saved = load("unit_" + q); if (own(UNITS[q], saved)) { state.units[q] = saved; } });
  }
  function setupUnits() {
    loadUnits();
    $("units-select").onchange = function () {
      var preset = own(PRESETS, this.value) ? PRESETS[this.value] : null;
      if (!preset) { $("units-more").open = true; return; }  /* "Custom": show the choice per value */
      QUANTITIES.forEach(function (q) { setUnit(q, preset[q]); });
      showUnits();
    };
    QUANTITIES.forEach(function (q) {
      $("unit-" + q).onchange = function () { setUnit(q, this.value); showUnits(); };
    });
    showUnits();
  }
  function number(v) {  /* a whole number, grouped the passenger's way */
    try { return v.toLocaleString(state.lang, { maximumFractionDigits: 0 }); } catch (e) { return v.toFixed(0); }
  }
  function formatValue(name, v) {
    if (name === "time_to_go") {
      var m = Math.round(v / 60);
      return Math.floor(m / 60) + " " + t("hours_short") + " " + (m % 60 < 10 ? "0" : "") + (m % 60) + " " + t("minutes_short");
    }
    var c = UNITS[name][state.units[name]], x = Math.round(v * c[0] + c[1]);
    return number(x || 0) + " " + c[2];  /* x || 0: never "-0" */
  }
  function clock(iso) { return iso ? iso.slice(11, 16) : null; }

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
  function renderFlight() {
    var f = state.flight;
    if (!f || !state.strings) { return; }
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
      setCell(n, v && v.value !== null ? formatValue(n, v.value) : null, v && v.status);
    });
    ["time_to_go", "distance_to_go"].forEach(function (n) {
      setCell(n, g[n].value !== null ? formatValue(n, g[n].value) : null, g[n].status);
    });
    setCell("destination_time", clock(f.time.destination_local), f.time.destination_local ? "normal" : "unavailable");
    setCell("eta", clock(g.eta.local), g.eta.status);
    var pct = g.percent_complete.value;
    var bar = $("progress-bar");
    bar.style.width = (pct === null ? 0 : pct) + "%";
    bar.setAttribute("aria-valuenow", pct === null ? 0 : Math.round(pct));
    drawMap();
  }
  function onFlight(doc_) {
    state.flight = doc_;
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
  var pollTimer = null;
  function poll() {
    xhr("GET", "/api/v1/flight", null, function (status, data) {
      if (status === 200 && data) { onFlight(data); } else { lost(); }
      pollTimer = setTimeout(poll, 2000);
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

  /* ---- map --------------------------------------------------------------------------------------------- */
  var W = 800, H = 450;
  function rad(x) { return x * Math.PI / 180; }
  function deg(x) { return x * 180 / Math.PI; }
  function greatCircle(a, b, n) {
    var la1 = rad(a[0]), lo1 = rad(a[1]), la2 = rad(b[0]), lo2 = rad(b[1]);
    var dd = 2 * Math.asin(Math.sqrt(Math.pow(Math.sin((la2 - la1) / 2), 2) +
      Math.cos(la1) * Math.cos(la2) * Math.pow(Math.sin((lo2 - lo1) / 2), 2)));
    var out = [], i;
    if (dd === 0) { return [a, b]; }
    for (i = 0; i <= n; i++) {
      var f = i / n, A = Math.sin((1 - f) * dd) / Math.sin(dd), B = Math.sin(f * dd) / Math.sin(dd);
      var x = A * Math.cos(la1) * Math.cos(lo1) + B * Math.cos(la2) * Math.cos(lo2);
      var y = A * Math.cos(la1) * Math.sin(lo1) + B * Math.cos(la2) * Math.sin(lo2);
      var z = A * Math.sin(la1) + B * Math.sin(la2);
      out.push([deg(Math.atan2(z, Math.sqrt(x * x + y * y))), deg(Math.atan2(y, x))]);
    }
    return out;
  }
  /* a longitude difference in [-180, 180): a route over the antimeridian (Tokyo-Honolulu) stays in one piece */
  function wrap(d) { return ((d % 360) + 540) % 360 - 180; }
  function makeView(points) {
    var minLat = 90, maxLat = -90, minLon = Infinity, maxLon = -Infinity, ref = points[0][1];
    points.forEach(function (pt) {
      var lon = ref + wrap(pt[1] - ref);
      minLat = Math.min(minLat, pt[0]); maxLat = Math.max(maxLat, pt[0]);
      minLon = Math.min(minLon, lon); maxLon = Math.max(maxLon, lon);
    });
    var k = Math.cos(rad((minLat + maxLat) / 2));
    var spanX = Math.max((maxLon - minLon) * k, 4), spanY = Math.max(maxLat - minLat, 2.25);
    var scale = Math.min(W / (spanX * 2.4), H / (spanY * 2.6));
    var cx = (minLon + maxLon) / 2, cy = (minLat + maxLat) / 2;
    return { key: [minLat, maxLat, minLon, maxLon].join(","), dx: function (lon) { return wrap(lon - cx); },
      p: function (lat, lon) { return [W / 2 + wrap(lon - cx) * k * scale, H / 2 - (lat - cy) * scale]; } };
  }
  function pathOf(points, view) {
    var s = "", i, xy;
    for (i = 0; i < points.length; i++) {
      xy = view.p(points[i][0], points[i][1]);
      s += (i ? "L" : "M") + xy[0].toFixed(1) + "," + xy[1].toFixed(1);
    }
    return s;
  }
  function drawLand(view) {
    if (!state.world || !window.topojson) { return; }
    if (!state.land) { state.land = window.topojson.feature(state.world, state.world.objects.countries); }
    var fc = state.land, s = "", parts = [];
    fc.features.forEach(function (feature) {
      var g = feature.geometry;
      if (!g) { return; }
      var polys = g.type === "Polygon" ? [g.coordinates] : g.coordinates;
      polys.forEach(function (poly) {
        poly.forEach(function (ring) {
          var d = "", i, xy, dx, prev = null;
          for (i = 0; i < ring.length; i++) {
            dx = view.dx(ring[i][0]);  /* a ring cut by the map's back meridian: lift the pen, no line across */
            if (prev !== null && Math.abs(dx - prev) > 180) { d += "M"; } else { d += i ? "L" : "M"; }
            prev = dx;
            xy = view.p(ring[i][1], ring[i][0]);
            d += xy[0].toFixed(1) + "," + xy[1].toFixed(1);
          }
          s += d + "Z";
        });
      });
    });
    parts.push('<path d="' + s + '"/>');
    $("land").innerHTML = parts.join("");
  }
  function drawMap() {
    var f = state.flight;
    if (!f || !f.flight) { return; }
    var o = f.flight.origin, d = f.flight.destination, pts = [];
    if (o && o.lat !== null) { pts.push([o.lat, o.lon]); }
    if (d && d.lat !== null) { pts.push([d.lat, d.lon]); }
    if (f.position && pts.length < 2) { pts.push([f.position.lat, f.position.lon]); }  /* the route frames the map */
    if (!pts.length) { return; }
    var view = makeView(pts);
    if (!state.view || state.view.key !== view.key) {
      state.view = view;
      drawLand(view);
      var labels = "";
      [o, d].forEach(function (a) {
        if (!a || a.lat === null) { return; }
        var xy = view.p(a.lat, a.lon);
        labels += '<circle cx="' + xy[0].toFixed(1) + '" cy="' + xy[1].toFixed(1) + '" r="5"/>' +
          '<text x="' + (xy[0] + 8).toFixed(1) + '" y="' + (xy[1] - 8).toFixed(1) + '">' + (a.iata || a.icao) + "</text>";
      });
      $("airports").innerHTML = labels;
    }
    view = state.view;
    $("route").setAttribute("d", o && d && o.lat !== null && d.lat !== null ? pathOf(greatCircle([o.lat, o.lon], [d.lat, d.lon], 96), view) : "");
    $("flown").setAttribute("d", state.track.length > 1 ? pathOf(state.track, view) : "");
    var plane = $("plane"), heading = f.parameters.heading.value;
    if (f.position) {
      var xy = view.p(f.position.lat, f.position.lon);
      plane.setAttribute("transform", "translate(" + xy[0].toFixed(1) + "," + xy[1].toFixed(1) + ") rotate(" + (heading === null ? 0 : heading) + ")");
      plane.setAttribute("visibility", "visible");
    } else {
      plane.setAttribute("visibility", "hidden");
    }
  }

  /* ---- catalog ----------------------------------------------------------------------------------------- */
  function loadCatalog() {
    xhr("GET", "/api/v1/catalog?lang=" + state.lang, null, function (status, data) {
      if (status === 200 && data) { state.catalog = data; renderCatalog(); }
    });
  }
  function el(tag, cls, text) {
    var e = doc.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function button(label, action, secondary) {
    var b = el("button", secondary ? "secondary" : "", label);
    b.type = "button";
    b.onclick = action;
    return b;
  }
  function card(item) {
    var li = el("li", "card");
    if (item.thumbnail) { var img = el("img"); img.src = item.thumbnail; img.alt = ""; img.loading = "lazy"; li.appendChild(img); }
    var body = el("div", "body");
    body.appendChild(el("div", "meta", (item.category_name || item.category) + (item.price ? " \u00B7 " + item.price : "")));
    var title = el("h3", "", item.title);
    title.id = "title-" + item.id;
    body.appendChild(title);
    if (item.description) { body.appendChild(el("p", "", item.description)); }
    li.appendChild(body);
    var actions = el("div", "actions");
    if (item.kind === "video") {
      var play = button(t("play"), function () { playVideo(item); });
      play.disabled = !state.catalog.video_available;
      actions.appendChild(play);
    } else if (item.kind !== "offer") {
      var f = item.files, href = f.pdf || f.html;
      if (href) { var a = el("a", "button", t("open")); a.href = href; a.target = "_blank"; a.rel = "noopener"; actions.appendChild(a); }
      else if (f.pages) {
        var read = button(t("open"), function () { openReader(item, read); });
        read.setAttribute("data-reader", item.id);
        read.setAttribute("aria-haspopup", "dialog");
        actions.appendChild(read);
      }
      actions.appendChild(button(t("send_me"), function () { openOrder("email", item); }, true));
    } else {
      actions.appendChild(button(t("request_offer"), function () { openOrder("offer", item); }));
      if (item.price) { actions.appendChild(button(t("book"), function () { openOrder("booking", item); }, true)); }
    }
    for (var i = 0; i < actions.children.length; i++) {  // "Open", "Play"... each says which item it is for
      actions.children[i].setAttribute("aria-describedby", title.id);
    }
    li.appendChild(actions);
    return li;
  }
  function renderCatalog() {
    var c = state.catalog;
    if (!c || !state.strings) { return; }
    ["video", "reading", "guide", "offer"].forEach(function (kind) {
      var list = $("list-" + kind);
      list.innerHTML = "";
      var items = c.items.filter(function (i) { return i.kind === kind; });
      items.forEach(function (i) { list.appendChild(card(i)); });
      if (!items.length && !(kind === "video" && state.ground)) { list.appendChild(el("li", "empty", t("nothing_here"))); }
    });
    var notice = $("video-notice");
    if (!c.video_available) { notice.textContent = state.ground ? t("no_video_ground") : t("video_unavailable"); notice.hidden = false; }
    else { notice.hidden = true; }
    if (state.reader) {  /* the open reading, in the new language */
      var id = state.reader.item.id;
      state.reader.item = c.items.filter(function (i) { return i.id === id; })[0] || state.reader.item;
      renderReader();
    }
  }

  /* ---- reader: a reading made of page images, one page loaded at a time -------------------------------- */
  function openReader(item, opener) {
    state.reader = { item: item, page: 0, opener: opener };
    $("reader").hidden = false;
    renderReader();
    ($("reader-next").disabled ? $("reader-close") : $("reader-next")).focus();
  }
  function turnPage(step) {
    var r = state.reader;
    if (!r) { return; }
    var page = Math.max(0, Math.min(r.item.files.pages.length - 1, r.page + step));
    if (page !== r.page) { r.page = page; renderReader(); }
  }
  function renderReader() {
    var r = state.reader;
    if (!r) { return; }
    var pages = r.item.files.pages, img = $("reader-img"), prev = $("reader-prev"), next = $("reader-next");
    r.page = Math.min(r.page, pages.length - 1);
    var label = t("page_of").replace("{n}", r.page + 1).replace("{m}", pages.length);
    var first = r.page === 0, last = r.page === pages.length - 1, focused = doc.activeElement;
    $("reader-title").textContent = r.item.title;
    $("reader-count").textContent = label;
    img.alt = r.item.title + ", " + label;
    if (img.getAttribute("src") !== pages[r.page]) { img.className = "loading"; img.src = pages[r.page]; }
    prev.disabled = first;
    next.disabled = last;
    if (focused && focused.disabled) { (first ? (last ? $("reader-close") : next) : prev).focus(); }  /* keep focus */
  }
  function closeReader() {
    var r = state.reader;
    if (!r) { return; }
    state.reader = null;
    $("reader").hidden = true;
    $("reader-img").removeAttribute("src");
    /* back where it was: the same button, or its successor if the catalog was drawn again meanwhile */
    var back = doc.body.contains(r.opener) ? r.opener : doc.querySelector("[data-reader='" + r.item.id + "']");
    if (back) { back.focus(); }
  }
  function onReaderKey(e) {
    if (!state.reader) { return; }
    if (e.key === "Escape") { closeReader(); return; }
    if (e.key === "ArrowRight" || e.key === "ArrowLeft") { turnPage(e.key === "ArrowRight" ? 1 : -1); e.preventDefault(); return; }
    if (e.key !== "Tab") { return; }
    var box = $("reader"), f = box.querySelectorAll("button:not([disabled])"), active = doc.activeElement;
    var edge = e.shiftKey ? f[0] : f[f.length - 1];
    if (active === edge || !box.contains(active)) { (e.shiftKey ? f[f.length - 1] : f[0]).focus(); e.preventDefault(); }
  }
  function setupReader() {
    var img = $("reader-img"), touch = null;
    $("reader-prev").onclick = function () { turnPage(-1); };
    $("reader-next").onclick = function () { turnPage(1); };
    $("reader-close").onclick = closeReader;
    img.onload = img.onerror = function () { img.className = ""; };  /* the page shown dimmed until it is in */
    doc.addEventListener("keydown", onReaderKey);
    /* a swipe turns the page, unless the passenger has zoomed in and is moving around the page */
    img.addEventListener("touchstart", function (e) {
      touch = e.touches.length === 1 ? [e.touches[0].clientX, e.touches[0].clientY] : null;
    });
    img.addEventListener("touchend", function (e) {
      var p = e.changedTouches[0], zoomed = window.visualViewport && window.visualViewport.scale > 1.01;
      var dx = touch ? p.clientX - touch[0] : 0, dy = touch ? p.clientY - touch[1] : 0;
      if (!zoomed && Math.abs(dx) > 50 && Math.abs(dx) > 2 * Math.abs(dy)) { turnPage(dx < 0 ? 1 : -1); }
      touch = null;
    });
  }
  var hls = null;
  function playVideo(item) {
    var url = item.files.hls, video = $("video"), notice = $("video-notice");
    xhr("GET", url, null, function (status) {
      if (status === 503 || status === 403) {
        notice.textContent = status === 503 ? t("video_unavailable") : t("no_video_ground");
        notice.hidden = false;
        return;
      }
      if (status !== 200) { notice.textContent = t("error_generic"); notice.hidden = false; return; }
      notice.hidden = true;
      $("player").hidden = false;
      if (video.canPlayType("application/vnd.apple.mpegurl")) {
        video.src = url;
        video.play();
      } else {
        withHls(function () {
          if (!window.Hls || !window.Hls.isSupported()) { notice.textContent = t("error_generic"); notice.hidden = false; return; }
          if (hls) { hls.destroy(); }
          hls = new window.Hls({ enableWorker: false });
          hls.loadSource(url);
          hls.attachMedia(video);
          video.play();
        });
      }
    });
  }
  function withHls(done) {
    if (window.Hls) { done(); return; }
    var s = doc.createElement("script");
    s.src = "/static/vendor/hls.light.min.js";
    s.onload = done;
    doc.body.appendChild(s);
  }

  /* ---- orders ------------------------------------------------------------------------------------------ */
  function openOrder(kind, item) {
    state.order = { kind: kind, item: item };
    $("order-title").textContent = (kind === "email" ? t("send_me") : kind === "booking" ? t("book") :
      kind === "offer" ? t("request_offer") : t("password_reset")) + (item ? ": " + item.title : "");
    $("order-seat-row").hidden = kind === "password_reset";
    $("order-status").textContent = "";
    $("order-status").className = "status";
    $("order-send").disabled = false;
    $("order").hidden = false;
    $("order-email").focus();
  }
  function closeOrder() { $("order").hidden = true; }
  function submitOrder(e) {
    if (e) { e.preventDefault(); }
    var o = state.order, status = $("order-status");
    var email = $("order-email").value.trim(), seat = $("order-seat").value.trim().toUpperCase();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) { status.textContent = t("error_email"); status.className = "status error"; return; }
    if (seat && !/^[1-9][0-9]{0,2}[A-K]$/.test(seat)) { status.textContent = t("error_seat"); status.className = "status error"; return; }
    var body = { kind: o.kind, email: email, lang: state.lang };
    if (o.item) { body.item = o.item.id; }
    if (seat && o.kind !== "password_reset") { body.seat = seat; }
    $("order-send").disabled = true;
    xhr("POST", "/api/v1/orders", body, function (code, data) {
      $("order-send").disabled = false;
      if (code === 201) {
        status.textContent = o.kind === "password_reset" ? t("password_reset_sent") :
          (data && data.delivery === "now" ? t("order_sent_ground") : t("order_sent"));
        status.className = "status ok";
        status.setAttribute("data-order-id", data.id);
        return;
      }
      status.className = "status error";
      status.textContent = code === 429 ? t("error_rate") : code === 503 ? t("error_storage") :
        data && data.field === "email" ? t("error_email") : data && data.field === "seat" ? t("error_seat") : t("error_generic");
    });
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
      (function (tab, index) {
        tab.onclick = function () { selectTab(tab.id.slice(4)); };
        tab.onkeydown = function (e) {
          var visible = [], j;
          for (j = 0; j < tabs.length; j++) { if (!tabs[j].hidden) { visible.push(tabs[j]); } }
          var k = visible.indexOf(tab);
          if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
            var next = visible[(k + (e.key === "ArrowRight" ? 1 : visible.length - 1)) % visible.length];
            next.focus(); selectTab(next.id.slice(4)); e.preventDefault();
          }
        };
      })(tabs[i], i);
    }
    if (state.ground) { $("tab-watch").hidden = true; $("reset-box").hidden = false; }
    selectTab("flight");
  }

  /* ---- start ------------------------------------------------------------------------------------------- */
  function start() {
    setupUnits();
    $("lang-select").onchange = function () { setLang(this.value); };
    $("order-form").onsubmit = submitOrder;
    $("order-cancel").onclick = closeOrder;
    $("order").onkeydown = function (e) { if (e.key === "Escape") { closeOrder(); } };
    $("reset-open").onclick = function () { openOrder("password_reset", null); };
    $("player-close").onclick = function () { var v = $("video"); v.pause(); if (hls) { hls.destroy(); hls = null; } v.removeAttribute("src"); $("player").hidden = true; };
    setupTabs();
    setupReader();
    xhr("GET", "/static/i18n.json", null, function (status, data) {
      if (status === 200 && data) { state.strings = data; applyStrings(); }
    });
    xhr("GET", "/static/vendor/countries-110m.json", null, function (status, data) {
      if (status === 200 && data) { state.world = data; state.view = null; drawMap(); }
    });
    xhr("GET", "/api/v1/flight/track", null, function (status, data) {
      if (status === 200 && data && data.points) { state.track = data.points.concat(state.track); drawMap(); }
    });
    loadCatalog();
    startLive();
  }
  start();
})();
