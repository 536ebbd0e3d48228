/* Card payment and My orders. ES5; see core.js.
   The card is checked here (Luhn, expiry against the flight's date, brand from the number) and encrypted on
   this device to the card processor's public key, as a compact JWE (RSA-OAEP-256 + A256GCM) made with
   node-forge (static/vendor/forge.min.js, loaded when the form opens): WebCrypto exists only over HTTPS and
   the portal is plain HTTP. Only the JWE, the brand and the last four digits leave this page.
   My orders: each order's Idempotency-Key is the passenger's receipt, kept in localStorage and in the page's
   URL fragment (#r=key.key...: the captive mini-browser may keep no storage); the server keeps only its hash. */
(function () {
  "use strict";
  var C = window.Cabin, doc = document, state = C.state, $ = C.$, xhr = C.xhr, t = C.t, el = C.el;
  var RECEIPTS = "receipts", MAX_RECEIPTS = 50;

  /* ---- the card, checked offline ----------------------------------------------------------------------- */
  function digits(text) { return String(text || "").replace(/[\s-]/g, ""); }
  function luhn(number) {
    if (!/^[0-9]{12,19}$/.test(number)) { return false; }
    var sum = 0, i, d;
    for (i = 0; i < number.length; i++) {
      d = number.charCodeAt(number.length - 1 - i) - 48;
      if (i % 2) { d *= 2; if (d > 9) { d -= 9; } }
      sum += d;
    }
    return sum % 10 === 0;
  }
  function brand(number) {
    var two = parseInt(number.slice(0, 2), 10), four = parseInt(number.slice(0, 4), 10);
    if (/^4/.test(number)) { return "visa"; }
    if (/^3[47]/.test(number)) { return "amex"; }
    if ((two >= 51 && two <= 55) || (four >= 2221 && four <= 2720)) { return "mastercard"; }
    if (/^(6011|65|64[4-9])/.test(number)) { return "discover"; }
    if (/^35(2[89]|[3-8])/.test(number)) { return "jcb"; }
    if (/^3(0[0-5]|[689])/.test(number)) { return "diners"; }
    if (/^62/.test(number)) { return "unionpay"; }
    if (/^(5[06-9]|6[0-9])/.test(number)) { return "maestro"; }
    return null;
  }
  var BRAND_NAMES = { visa: "Visa", mastercard: "Mastercard", amex: "American Express", discover: "Discover",
                      jcb: "JCB", diners: "Diners Club", unionpay: "UnionPay", maestro: "Maestro" };
  /* The flight's date (the avionics' UTC in the flight document), else this device's clock. */
  function today() {
    var utc = state.flight && state.flight.time && state.flight.time.utc;
    var d = utc ? new Date(utc) : new Date();
    return isNaN(d.getTime()) ? new Date() : d;
  }
  function expiryValid(text) {
    var m = /^(0[1-9]|1[0-2])\s*\/\s*([0-9]{2})$/.exec(String(text || "").trim());
    if (!m) { return false; }
    var now = today(), year = 2000 + parseInt(m[2], 10), month = parseInt(m[1], 10);
    var y = now.getUTCFullYear(), mo = now.getUTCMonth() + 1;
    return (year > y || (year === y && month >= mo)) && year <= y + 20;
  }
  function check(card) {
    var b = brand(card.number);
    if (!luhn(card.number) || !b) { return { field: "pay-number", error: "error_card_number" }; }
    if (!expiryValid(card.expiry)) { return { field: "pay-expiry", error: "error_card_expiry" }; }
    if (!(b === "amex" ? /^[0-9]{4}$/ : /^[0-9]{3}$/).test(card.cvc)) { return { field: "pay-cvc", error: "error_card_cvc" }; }
    if (!card.holder) { return { field: "pay-name", error: "error_card_name" }; }
    return null;
  }

  /* ---- the JWE, made here with node-forge ------------------------------------------------------------- */
  function b64url(bytes) { return window.forge.util.encode64(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, ""); }
  function unb64url(text) {
    var s = text.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) { s += "="; }
    return window.forge.util.decode64(s);
  }
  function encryptCard(jwk, card) {
    var forge = window.forge, util = forge.util, BigInteger = forge.jsbn.BigInteger;
    var header = { alg: "RSA-OAEP-256", enc: "A256GCM" };
    if (jwk.kid) { header.kid = jwk.kid; }
    var protectedHeader = b64url(util.encodeUtf8(JSON.stringify(header)));
    var key = forge.pki.setRsaPublicKey(new BigInteger(util.bytesToHex(unb64url(jwk.n)), 16),
                                        new BigInteger(util.bytesToHex(unb64url(jwk.e)), 16));
    var cek = forge.random.getBytesSync(32), iv = forge.random.getBytesSync(12);
    var encryptedKey = key.encrypt(cek, "RSA-OAEP", { md: forge.md.sha256.create(), mgf1: { md: forge.md.sha256.create() } });
    var cipher = forge.cipher.createCipher("AES-GCM", cek);
    cipher.start({ iv: iv, additionalData: protectedHeader, tagLength: 128 });
    cipher.update(util.createBuffer(util.encodeUtf8(JSON.stringify(card))));
    cipher.finish();
    return [protectedHeader, b64url(encryptedKey), b64url(iv), b64url(cipher.output.getBytes()),
            b64url(cipher.mode.tag.getBytes())].join(".");
  }
  function withForge(done) {
    if (window.forge) { done(); return; }
    var s = doc.createElement("script");
    s.src = "/static/vendor/forge.min.js";
    s.onload = done;
    doc.body.appendChild(s);
  }

  /* ---- receipts (My orders) ---------------------------------------------------------------------------- */
  function fragmentReceipts() {
    var m = /(?:^#|&)r=([^&]*)/.exec(window.location.hash || "");
    return m ? m[1].split(".").filter(function (k) { return /^[0-9a-f-]{16,64}$/.test(k); }) : [];
  }
  function receipts() {
    var kept = [];
    try { kept = JSON.parse(C.load(RECEIPTS) || "[]"); } catch (e) { kept = []; }
    if (!(kept instanceof Array)) { kept = []; }
    fragmentReceipts().forEach(function (k) { if (kept.indexOf(k) < 0) { kept.push(k); } });
    return kept.slice(-MAX_RECEIPTS);
  }
  function keep(list) {
    C.store(RECEIPTS, JSON.stringify(list));
    var hash = "#r=" + list.join(".");
    try { window.history.replaceState(null, "", window.location.pathname + window.location.search + hash); }
    catch (e) { window.location.hash = hash; }
  }
  function remember(key) {
    var list = receipts();
    if (list.indexOf(key) < 0) { list.push(key); }
    keep(list.slice(-MAX_RECEIPTS));
  }

  /* ---- the checkout ------------------------------------------------------------------------------------ */
  function money(minor, currency, exponent) {
    var amount = minor / Math.pow(10, exponent === undefined ? 2 : exponent);
    try { return new Intl.NumberFormat(state.lang, { style: "currency", currency: currency }).format(amount); }
    catch (e) { return currency + " " + amount.toFixed(exponent === undefined ? 2 : exponent); }
  }
  function total() {
    var p = state.pay.item.price_value, n = parseInt($("pay-quantity").value, 10) || 1;
    return { quantity: n, minor: p.amount_minor * n };
  }
  function showTotal() {
    var p = state.pay.item.price_value, sum = total();
    $("pay-total").textContent = t("total") + ": " + money(sum.minor, p.currency, p.exponent);
    $("pay-total").setAttribute("data-total-minor", String(sum.minor));
  }
  function openPay(item) {
    var p = item.price_value, per = p.per || "item";
    state.pay = { item: item, key: null, sent: null };
    $("pay-title").textContent = t("pay_title") + ": " + item.title;
    $("pay-price").textContent = C.price(item) + (per === "item" ? "" : " " + t("per_" + per));
    $("pay-quantity-label").textContent = t("quantity_" + per);
    $("pay-quantity").value = "1";
    showTotal();
    $("pay-status").textContent = "";
    $("pay-status").className = "status";
    $("pay-brand").textContent = "";
    $("pay-send").disabled = false;
    $("pay").hidden = false;
    $("pay-email").focus();
    withForge(function () { /* loaded while the passenger types */ });
    if (!state.payKey) {
      xhr("GET", "/api/v1/payments/key", null, function (status, data) { if (status === 200 && data) { state.payKey = data; } });
    }
  }
  function clearCard() {
    ["pay-number", "pay-expiry", "pay-cvc", "pay-name"].forEach(function (id) { $(id).value = ""; });
    $("pay-brand").textContent = "";
  }
  function closePay() { clearCard(); $("pay").hidden = true; }
  function fail(text, field) {
    var status = $("pay-status");
    status.textContent = text;
    status.className = "status error";
    if (field) { $(field).focus(); }
  }
  function refusal(data) {
    var p = state.pay.item.price_value, text = t("payment_refused_" + (data && data.reason));
    if (data && data.field === "amount_minor") { return t("payment_refused_price"); }
    if (text === "payment_refused_" + (data && data.reason)) { return data && data.field === "email" ? t("error_email") : t("error_generic"); }
    return text.replace("{limit}", data.limit_minor ? money(data.limit_minor, p.currency, p.exponent) : "");
  }
  function submitPay(e) {
    if (e) { e.preventDefault(); }
    var o = state.pay, send = $("pay-send"), status = $("pay-status");
    if (send.disabled) { return; }
    var email = $("pay-email").value.trim();
    var card = { number: digits($("pay-number").value), expiry: $("pay-expiry").value.trim().replace(/\s/g, ""),
                 cvc: $("pay-cvc").value.trim(), holder: $("pay-name").value.trim() };
    if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) { fail(t("error_email"), "pay-email"); return; }
    var problem = check(card);
    if (problem) { fail(t(problem.error), problem.field); return; }
    if (!state.payKey) { fail(t("payment_refused_unavailable")); return; }
    send.disabled = true;
    status.textContent = t("order_sending");
    status.className = "status";
    withForge(function () {
      var sum = total(), p = o.item.price_value, b = brand(card.number), last4 = card.number.slice(-4);
      card.generationtime = new Date().toISOString();
      var body = { item: o.item.id, quantity: sum.quantity, amount_minor: sum.minor, currency: p.currency,
                   jwe: encryptCard(state.payKey, card), brand: b, last4: last4, email: email, lang: state.lang };
      card = null;
      clearCard();  /* the card stays nowhere on the page once it is encrypted */
      /* one key per payment the passenger makes: a retry of this very request (a lost answer) reuses it */
      o.key = o.key || C.uuid();
      var key = o.key;
      xhr("POST", "/api/v1/payments", body, function (code, data) {
        if (code === 201 && data) {
          remember(key);
          status.textContent = "";
          status.appendChild(el("span", "", data.delivery === "now" ? t("payment_stored_ground") : t("payment_stored")));
          status.appendChild(el("span", "reference", BRAND_NAMES[data.brand] + " \u2022\u2022\u2022\u2022 " + data.last4 + " \u00B7 " +
            money(data.amount_minor, data.currency, p.exponent) + " \u00B7 " + t("order_reference") + ": " + String(data.id).slice(0, 8).toUpperCase()));
          status.className = "status ok";
          status.setAttribute("data-order-id", data.id);
          return;  /* paid: Pay stays disabled */
        }
        send.disabled = false;
        o.key = null;  /* refused: nothing stored; the next try is a new payment with the card typed again */
        fail(code === 429 ? t("error_rate") : code === 503 && !(data && data.reason) ? t("error_storage") : refusal(data));
        status.setAttribute("data-reason", (data && data.reason) || "");
      }, { "Idempotency-Key": key });
    });
  }

  /* ---- My orders --------------------------------------------------------------------------------------- */
  var orders = [], shown = false, poll = null, POLL_MS = 10000;
  function loadOrders() {
    var list = receipts();
    if (!list.length) { orders = []; renderOrders(); return; }
    xhr("POST", "/api/v1/orders/mine", { receipts: list }, function (code, data) {
      if (code !== 200 || !data) { return; }
      orders = data.orders;
      renderOrders();
    });
  }
  function renderOrders() {
    var ul = $("list-orders");
    if (!ul || !state.strings) { return; }
    ul.innerHTML = "";
    if (!orders.length) { ul.appendChild(el("li", "empty", t("orders_empty"))); return; }
    orders.forEach(function (o) {
      var li = el("li", "card order"), body = el("div", "body");
      li.setAttribute("data-order-id", o.id);
      li.setAttribute("data-state", o.state);
      var when = new Date(o.created), whenText = o.created;
      try { whenText = new Intl.DateTimeFormat(state.lang, { dateStyle: "medium", timeStyle: "short" }).format(when); }
      catch (e) { whenText = when.toLocaleString(); }
      body.appendChild(el("div", "meta", t("kind_" + o.kind) + " \u00B7 " + whenText));
      body.appendChild(el("h3", "", o.title || o.item || ""));
      if (o.kind === "payment") {
        body.appendChild(el("p", "amount", money(o.amount_minor, o.currency) + " \u00B7 " + (BRAND_NAMES[o.brand] || o.brand) +
          " " + t("card_ending") + " " + o.last4));
      }
      var badge = el("span", "order-state " + o.state, t("state_" + o.state));
      badge.setAttribute("data-state", o.state);
      body.appendChild(badge);
      if (o.state === "declined") {
        var why = t("decline_" + o.reason);
        body.appendChild(el("p", "reason", why === "decline_" + o.reason ? t("decline_other") : why));
      }
      body.appendChild(el("p", "reference", t("order_reference") + ": " + String(o.id).slice(0, 8).toUpperCase()));
      li.appendChild(body);
      ul.appendChild(li);
    });
  }
  function ordersShown(on) {
    shown = on;
    if (poll !== null) { clearInterval(poll); poll = null; }
    if (on) { loadOrders(); poll = setInterval(loadOrders, POLL_MS); }  /* the ground's answers show by themselves */
  }
  function setupPay() {
    $("pay-form").onsubmit = submitPay;
    $("pay-cancel").onclick = closePay;
    $("pay").onkeydown = function (e) { if (C.keyOf(e) === "Escape") { closePay(); } };
    $("pay-quantity").onchange = showTotal;
    $("pay-number").oninput = function () {
      var b = brand(digits(this.value));
      $("pay-brand").textContent = b ? BRAND_NAMES[b] : "";
      $("pay-brand").setAttribute("data-brand", b || "");
    };
    $("orders-open").onclick = function () { $("orders").hidden = false; ordersShown(true); $("orders-close").focus(); };
    $("orders-close").onclick = function () { $("orders").hidden = true; ordersShown(false); };
    $("orders").onkeydown = function (e) { if (C.keyOf(e) === "Escape") { $("orders-close").onclick(); } };
    var list = receipts();
    if (list.length) { keep(list); }  /* receipts from the URL fragment into localStorage, and back */
  }

  C.openPay = openPay;
  C.setupPay = setupPay;
  C.remember = remember;
  C.renderOrders = function () { if (shown) { renderOrders(); } };
  C.ordersShown = ordersShown;
  C.loadOrders = loadOrders;
  C.cardCheck = { luhn: luhn, brand: brand, expiryValid: expiryValid };
})();
