/* The web app's catalog: the cards of the Watch, Read, Guides and Offers tabs, the video player and the order
   form the cards open. ES5; see core.js. */
(function () {
  "use strict";
  var C = window.Cabin, doc = document, state = C.state, $ = C.$, xhr = C.xhr, t = C.t, el = C.el, button = C.button;

  /* ---- catalog ----------------------------------------------------------------------------------------- */
  function loadCatalog() {
    xhr("GET", "/api/v1/catalog?lang=" + state.lang, null, function (status, data) {
      if (status === 200 && data) { state.catalog = data; state.catalogFailed = false; renderCatalog(); C.renderSaved(); }
      else { state.catalogFailed = true; C.catalogUnavailable(); }  /* after landing: what was saved */
    });
  }
  /* "89,00 €" in German, "€89.00" in English: the passenger's locale (Intl), else the catalog's own text */
  function price(item) {
    var v = item.price_value;
    if (v && window.Intl && Intl.NumberFormat) {
      try { return new Intl.NumberFormat(state.lang, { style: "currency", currency: v.currency }).format(v.amount); }
      catch (e) { /* an unknown currency code */ }
    }
    return item.price;
  }
  function duration(seconds) {
    var s = Math.round(seconds), unit = s < 60 ? "second" : "minute", n = s < 60 ? s : Math.round(s / 60);
    if (window.Intl && Intl.NumberFormat) {
      try { return new Intl.NumberFormat(state.lang, { style: "unit", unit: unit, unitDisplay: "short" }).format(n); }
      catch (e) { /* no unit formatting in this browser */ }
    }
    return Math.floor(s / 60) + ":" + (s % 60 < 10 ? "0" : "") + (s % 60);
  }
  var ORDER_LABELS = { email: "send_me", offer: "request_offer", booking: "book" };
  function card(item) {
    var li = el("li", "card");
    if (item.thumbnail) { var img = el("img"); img.src = item.thumbnail; img.alt = ""; img.loading = "lazy"; li.appendChild(img); }
    var body = el("div", "body"), meta = [item.category_name || item.category];
    if (item.price) {
      var per = item.price_value && item.price_value.per;
      meta.push(price(item) + (per === "night" || per === "person" ? " " + t("per_" + per) : ""));
    }
    if (typeof item.duration_s === "number" && item.duration_s > 0) { meta.push(duration(item.duration_s)); }
    var metaLine = el("div", "meta", meta.join(" \u00B7 "));
    if (item.price) { metaLine.setAttribute("data-price", price(item)); }
    body.appendChild(metaLine);
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
      if (f.pages && f.pages.length) {  /* page images: the in-app reader, even when there is a PDF too */
        var read = button(t("open"), function () { C.openReader(item, read); });
        read.setAttribute("data-reader", item.id);
        read.setAttribute("aria-haspopup", "dialog");
        actions.appendChild(read);
      } else if (href) { var a = el("a", "button", t("open")); a.href = href; a.target = "_blank"; a.rel = "noopener"; actions.appendChild(a); }
    }
    if (item.payable && item.price_value) {  /* bought or booked: paid by card on board, charged after landing */
      var pay = button(t("pay"), function () { C.openPay(item); });
      pay.setAttribute("data-pay", item.id);
      actions.appendChild(pay);
    }
    (item.orders || []).forEach(function (kind, n) {  /* what the catalog says this item takes */
      var secondary = item.kind !== "offer" || n > 0 || !!item.payable;
      var b = button(t(ORDER_LABELS[kind] || kind), function () { openOrder(kind, item); }, secondary);
      b.setAttribute("data-order", kind);
      actions.appendChild(b);
    });
    C.saveControls(item, actions, body);  /* "Save for after landing", where the licence allows it */
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
    if (!c.video_available) {
      notice.textContent = state.ground ? t("no_video_ground") : t("video_unavailable");
      notice.hidden = false;
      recheckVideo();
    }
    else { notice.hidden = true; }
    if (state.reader) {  /* the open reading, in the new language; closed if it has no pages there */
      var id = state.reader.item.id;
      var same = c.items.filter(function (i) { return i.id === id; })[0] || state.reader.item;
      if (same.files && same.files.pages && same.files.pages.length) { state.reader.item = same; C.renderReader(); }
      else { C.closeReader(); }
    }
  }

  /* While video is paused (over-temperature), ask the catalog again every few seconds: the notice and the
     disabled Play buttons clear by themselves once the server has cooled, without a reload. */
  var VIDEO_RECHECK_MS = 5000, recheck = null;
  function recheckVideo() {
    if (recheck !== null || state.ground) { return; }
    recheck = setTimeout(function () {
      recheck = null;
      xhr("GET", "/api/v1/catalog?lang=" + state.lang, null, function (status, data) {
        if (status === 200 && data) {
          var changed = !state.catalog || data.video_available !== state.catalog.video_available;
          state.catalog = data;
          if (changed || !$("video-notice").hidden) { renderCatalog(); return; }
        }
        if (!state.catalog || !state.catalog.video_available || !$("video-notice").hidden) { recheckVideo(); }
      });
    }, VIDEO_RECHECK_MS);
  }

  /* ---- video ------------------------------------------------------------------------------------------- */
  var hls = null;
  function playVideo(item) {
    var url = item.files.hls, video = $("video"), notice = $("video-notice");
    xhr("GET", url, null, function (status) {
      if (status === 503 || status === 403) {
        notice.textContent = status === 503 ? t("video_unavailable") : t("no_video_ground");
        notice.hidden = false;
        if (status === 503) { recheckVideo(); }
        return;
      }
      if (status !== 200) { notice.textContent = t("error_generic"); notice.hidden = false; return; }
      notice.hidden = true;
      $("player").hidden = false;
      video.onerror = cannotPlay;
      if (video.canPlayType("application/vnd.apple.mpegurl")) {
        video.src = url;
        started(video.play());
      } else {
        withHls(function () {
          if (!window.Hls || !window.Hls.isSupported()) { cannotPlay(); return; }
          if (hls) { hls.destroy(); }
          hls = new window.Hls({ enableWorker: false });
          hls.on(window.Hls.Events.ERROR, function (event, data) { if (data && data.fatal) { cannotPlay(); } });
          hls.loadSource(url);
          hls.attachMedia(video);
          started(video.play());
        });
      }
    });
  }
  /* The browser could not decode or load the film: say so in the passenger's language (not a frozen 0:00). */
  function cannotPlay() {
    var notice = $("video-notice");
    notice.textContent = t("video_cannot_play");
    notice.setAttribute("data-reason", "cannot-play");
    notice.hidden = false;
  }
  function started(promise) {  /* play() refused for want of a tap is not an error: the controls are there */
    if (promise && promise.then) { promise.then(null, function (e) { if (e && e.name !== "NotAllowedError" && e.name !== "AbortError") { cannotPlay(); } }); }
  }
  function withHls(done) {
    if (window.Hls) { done(); return; }
    var s = doc.createElement("script");
    s.src = "/static/vendor/hls.light.min.js";
    s.onload = done;
    doc.body.appendChild(s);
  }
  function closePlayer() {
    var v = $("video");
    v.pause();
    if (hls) { hls.destroy(); hls = null; }
    v.onerror = null;
    v.removeAttribute("src");
    $("player").hidden = true;
  }

  /* ---- orders ------------------------------------------------------------------------------------------ */
  function openOrder(kind, item) {
    state.order = { kind: kind, item: item };
    $("order-title").textContent = (kind === "email" ? t("send_me") : kind === "booking" ? t("book") :
      kind === "offer" ? t("request_offer") : t("password_reset")) + (item ? ": " + item.title : "");
    $("order-seat-row").hidden = kind === "password_reset";
    $("order-status").textContent = "";
    $("order-status").className = "status";
    $("order-send").disabled = false;  /* a new order */
    $("order").hidden = false;
    $("order-email").focus();
  }
  function closeOrder() { $("order").hidden = true; }
  function submitOrder(e) {
    if (e) { e.preventDefault(); }
    var o = state.order, status = $("order-status"), send = $("order-send");
    if (send.disabled) { return; }  /* sending, or sent: a second tap does nothing */
    var email = $("order-email").value.trim(), seat = $("order-seat").value.trim().toUpperCase();
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) { status.textContent = t("error_email"); status.className = "status error"; return; }
    if (seat && !/^[1-9][0-9]{0,2}[A-K]$/.test(seat)) { status.textContent = t("error_seat"); status.className = "status error"; return; }
    var body = { kind: o.kind, email: email, lang: state.lang };
    if (o.item) { body.item = o.item.id; }
    if (seat && o.kind !== "password_reset") { body.seat = seat; }
    /* One Idempotency-Key per order the passenger places. Until it is confirmed, sending the same order again
       (a lost answer, the form closed and opened again) reuses its key, so the server answers the first 201
       instead of storing it twice; a changed order is another order, with a key of its own. */
    var sent = JSON.stringify(body), keys = state.orderKeys || (state.orderKeys = {});
    var key = keys[sent] || (keys[sent] = C.uuid());
    send.disabled = true;
    status.textContent = t("order_sending");
    status.className = "status";
    xhr("POST", "/api/v1/orders", body, function (code, data) {
      if (code === 201 && data) {
        status.textContent = "";
        status.appendChild(el("span", "", o.kind === "password_reset" ? t("password_reset_sent") :
          (data.delivery === "now" ? t("order_sent_ground") : t("order_sent"))));
        var ref = el("span", "reference", " " + t("order_reference") + ": " + String(data.id).slice(0, 8).toUpperCase());
        ref.title = data.id;
        status.appendChild(ref);
        status.className = "status ok";
        status.setAttribute("data-order-id", data.id);
        C.remember(key);  /* My orders: this key is the passenger's receipt */
        delete keys[sent];  /* confirmed: the same order again is a new one */
        return;  /* Send stays disabled: this order is placed */
      }
      send.disabled = false;
      status.className = "status error";
      if (code >= 400 && code < 500 && code !== 429) { delete keys[sent]; }  /* refused: nothing stored */
      status.textContent = code === 429 ? t("error_rate") : code === 503 ? t("error_storage") :
        data && data.field === "email" ? t("error_email") : data && data.field === "seat" ? t("error_seat") : t("error_generic");
    }, { "Idempotency-Key": key });
  }
  function setupOrders() {
    $("order-form").onsubmit = submitOrder;
    $("order-cancel").onclick = closeOrder;
    $("order").onkeydown = function (e) { if (C.keyOf(e) === "Escape") { closeOrder(); } };
    $("reset-open").onclick = function () { openOrder("password_reset", null); };
  }

  C.price = price;
  C.loadCatalog = loadCatalog;
  C.renderCatalog = renderCatalog;
  C.closePlayer = closePlayer;
  C.setupOrders = setupOrders;
})();
