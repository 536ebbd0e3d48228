/* The web app's page reader: a reading made of page images, in a dialog. ES5; see core.js. */
(function () {
  "use strict";
  var C = window.Cabin, doc = document, state = C.state, $ = C.$, t = C.t;

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
    var key = C.keyOf(e);
    if (key === "Escape") { closeReader(); return; }
    if (key === "ArrowRight" || key === "ArrowLeft") { turnPage(key === "ArrowRight" ? 1 : -1); e.preventDefault(); return; }
    if (key !== "Tab") { return; }
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

  C.openReader = openReader;
  C.renderReader = renderReader;
  C.closeReader = closeReader;
  C.setupReader = setupReader;
})();
