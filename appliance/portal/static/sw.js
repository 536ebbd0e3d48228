/* The web app's service worker, scope "/" (served at /sw.js by appliance/portal/app.py): "Take it with you".
   It keeps two things on the passenger's device, in the Cache API:
   - the app itself (SHELL: the page and its scripts), so that it opens after landing, with no cabin server;
   - what the passenger saved (keep.js: the SAVED cache, written by saved.js): files of readings and guides
     whose licence allows it, until their time is up. A saved copy past its time is deleted here at every use
     and at start (and by the page while it is open), never served.
   It never answers, stores or even sees API answers (orders, receipts, payments, the catalog), the flight
   stream, the captive-portal pages or films: those requests are not intercepted at all.
   Plain ES5 like the app, no modules. */
"use strict";
importScripts("/static/keep.js");

var Keep = self.Cabin.keep;
var SHELL = "cabin-shell-v1";
var SHELL_FILES = ["/", "/static/app.css", "/static/favicon.svg", "/static/i18n.json",
  "/static/vendor/topojson-client.min.js", "/static/vendor/countries-110m.json", "/static/core.js",
  "/static/units.js", "/static/map.js", "/static/reader.js", "/static/catalog.js", "/static/pay.js",
  "/static/keep.js", "/static/saved.js", "/static/app.js"];
/* never through the worker: personal data and the stream (/api/), the portal's own pages, itself, records */
var PASS = /^\/(api|captive-portal|welcome|sw\.js|__saved__)(\/|$)/;
var VIDEO = /\.(m3u8|ts|m4s|mp4|aac|vtt)$/i;  /* films: big, streamed, never savable */

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(SHELL).then(function (cache) {
    return cache.addAll(SHELL_FILES.map(function (u) { return new Request(u, { cache: "no-cache" }); }));
  }).then(function () { return self.skipWaiting(); }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (n) { return n !== SHELL && n !== Keep.SAVED; })
      .map(function (n) { return caches["delete"](n); }));
  }).then(function () { return Keep.sweep(Date.now()); }).then(function () { return self.clients.claim(); }));
});

/* The app: from the network while there is one (refreshing the copy), else from the copy. */
function shell(request, key) {
  return fetch(request).then(function (response) {
    if (response.status === 200 && response.type === "basic") {
      var copy = response.clone();
      caches.open(SHELL).then(function (cache) { return cache.put(key, copy); });
    }
    return response;
  }, function (error) {
    return caches.open(SHELL).then(function (cache) { return cache.match(key, { ignoreVary: true }); })
      .then(function (hit) { if (hit) { return hit; } throw error; });
  });
}

/* A bundle file: the saved copy while its time runs (also with the cabin server there: it is on the device
   already), else the network, as if there were no worker. */
function content(request) {
  return caches.open(Keep.SAVED).then(function (cache) {
    return cache.match(request.url, { ignoreVary: true, ignoreSearch: true }).then(function (hit) {
      if (hit && Keep.until(hit) > Date.now()) { return hit; }
      return (hit ? Keep.sweep(Date.now()) : Promise.resolve()).then(function () { return fetch(request); });
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request, url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin || PASS.test(url.pathname)) { return; }
  if (url.pathname.indexOf("/content/") === 0) {
    if (!VIDEO.test(url.pathname)) { event.respondWith(content(request)); }
    return;
  }
  if (request.mode === "navigate" && url.pathname === "/") { event.respondWith(shell(request, "/")); return; }
  if (!url.search && SHELL_FILES.indexOf(url.pathname) >= 0) { event.respondWith(shell(request, url.pathname)); }
});
