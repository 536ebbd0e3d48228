/* The on-board web app. ES5 on purpose: it must run in limited sign-in mini-browsers. Every request goes to
   the portal itself (same origin); nothing leaves the aircraft.
   No build step and no modules: index.html loads plain scripts in order (core, units, map, reader, catalog, app).
   Each is an IIFE that adds its parts to the one global, window.Cabin. The helpers here are taken as local
   names; what another file offers is called as Cabin.name() when it runs, so only core.js must come first and
   app.js (which starts the app) last. This one: the shared state and helpers. */
(function () {
  "use strict";
  var doc = document, root = doc.documentElement;
  var state = { lang: root.lang || "en", units: null, strings: null, flight: null, flightAt: 0, track: [], live: false,
                world: null, land: null, view: null, catalog: null, order: null, reader: null,
                ground: root.getAttribute("data-profile") === "ground" };

  function $(id) { return doc.getElementById(id); }
  function xhr(method, url, body, done, headers) {
    var r = new XMLHttpRequest();
    r.open(method, url, true);
    if (body !== null) { r.setRequestHeader("Content-Type", "application/json"); }
    for (var name in (headers || {})) { if (headers.hasOwnProperty(name)) { r.setRequestHeader(name, headers[name]); } }
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

  /* older mini-browsers have no KeyboardEvent.key, or the old names ("Left", "Esc") */
  var KEY_CODES = { 9: "Tab", 13: "Enter", 27: "Escape", 37: "ArrowLeft", 39: "ArrowRight" };
  var OLD_KEYS = { Left: "ArrowLeft", Right: "ArrowRight", Esc: "Escape" };
  function keyOf(e) {
    if (e.key && e.key !== "Unidentified") { return OLD_KEYS[e.key] || e.key; }
    return KEY_CODES[e.keyCode] || "";
  }

  /* A random UUID (version 4). crypto.randomUUID exists only in secure contexts, and the portal is plain HTTP:
     then crypto.getRandomValues (everywhere), else Math.random with the time (old mini-browsers). */
  function uuid() {
    var c = window.crypto || window.msCrypto, bytes = [], i;
    if (c && typeof c.randomUUID === "function") { try { return c.randomUUID(); } catch (e) { /* insecure */ } }
    if (c && c.getRandomValues && window.Uint8Array) { bytes = Array.prototype.slice.call(c.getRandomValues(new Uint8Array(16))); }
    else { for (i = 0; i < 16; i++) { bytes.push(Math.floor(Math.random() * 256) ^ ((new Date().getTime() >> (i % 4) * 8) & 255)); } }
    bytes[6] = (bytes[6] & 15) | 64;
    bytes[8] = (bytes[8] & 63) | 128;
    var hex = bytes.map(function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join("");
    return hex.slice(0, 8) + "-" + hex.slice(8, 12) + "-" + hex.slice(12, 16) + "-" + hex.slice(16, 20) + "-" + hex.slice(20);
  }

  /* ---- elements ---------------------------------------------------------------------------------------- */
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

  window.Cabin = { state: state, $: $, xhr: xhr, t: t, store: store, forget: forget, load: load, el: el,
                   button: button, keyOf: keyOf, uuid: uuid };
})();
