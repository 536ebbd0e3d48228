/* What the page (saved.js) and the service worker (sw.js) share about saved items: where they are kept and
   when they go. Loaded as a plain script by index.html and by importScripts in sw.js; `self` is the window in
   the page and the worker's global scope in the worker; it adds Cabin.keep. ES5.
   The SAVED cache holds, per saved item, a record at /__saved__/<id> (JSON: id, kind, title, category, files,
   thumbnail, urls, hours, saved, until) and the item's files, each response stamped with X-Saved-Until: the
   latest `until` (ms since 1970) of the items that use it. */
(function (scope) {
  "use strict";
  var SAVED = "cabin-saved-v1";  /* not versioned with the app: an update keeps what passengers saved */
  var META = "/__saved__/";

  function until(response) {
    var value = response && response.headers.get("X-Saved-Until");
    var n = value ? Number(value) : 0;
    return isFinite(n) ? n : 0;
  }
  function isMeta(url) { return new URL(url, scope.location.href).pathname.indexOf(META) === 0; }

  /* Every entry of the SAVED cache: [{request, response}] */
  function entries(cache) {
    return cache.keys().then(function (requests) {
      return Promise.all(requests.map(function (request) {
        return cache.match(request).then(function (response) { return { request: request, response: response }; });
      }));
    });
  }

  /* The records of what is kept, soonest to go first ([] where there is no Cache API). */
  function list() {
    if (!scope.caches) { return Promise.resolve([]); }
    return scope.caches.open(SAVED).then(entries).then(function (all) {
      return Promise.all(all.filter(function (e) { return isMeta(e.request.url); })
        .map(function (e) { return e.response.json(); }));
    }).then(function (metas) {
      return metas.sort(function (a, b) { return a.until - b.until; });
    });
  }

  /* Delete every record whose time is up at `now` (ms), and every file no record still keeps, or past its time.
     Resolves to the ids of the records it deleted. */
  function sweep(now) {
    if (!scope.caches) { return Promise.resolve([]); }
    return scope.caches.open(SAVED).then(function (cache) {
      return entries(cache).then(function (all) {
        var live = [], doomed = [], gone = [];
        all.forEach(function (e) {
          if (!isMeta(e.request.url)) { return; }
          if (until(e.response) <= now) {
            doomed.push(e.request);
            gone.push(decodeURIComponent(new URL(e.request.url).pathname.slice(META.length)));
          } else { live.push(e.response.clone().json()); }
        });
        return Promise.all(live).then(function (metas) {
          var used = {};
          metas.forEach(function (m) {
            (m.urls || []).forEach(function (u) { used[new URL(u, scope.location.href).href] = true; });
          });
          all.forEach(function (e) {
            if (!isMeta(e.request.url) && (!used[e.request.url] || until(e.response) <= now)) { doomed.push(e.request); }
          });
          return Promise.all(doomed.map(function (r) { return cache["delete"](r); }));
        }).then(function () { return gone; });
      });
    });
  }

  /* the page's one global (core.js), or the worker's own */
  scope.Cabin = scope.Cabin || {};
  scope.Cabin.keep = { SAVED: SAVED, META: META, until: until, list: list, sweep: sweep, entries: entries };
})(self);
