/* Klaster page behaviour: live-status badge, live events, gate-closure countdowns. No build step. */
(function () {
  "use strict";
  function setLive(state) {
    var el = document.getElementById("live-status");
    if (el) el.dataset.state = state;
  }
  document.addEventListener("htmx:wsOpen", function () { setLive("on"); });
  document.addEventListener("htmx:wsClose", function () { setLive("off"); });
  document.addEventListener("htmx:wsError", function () { setLive("off"); });
  // Operations (web/ops.py): the socket may stay open while the app has lost Redis, which
  // carries the events between app processes; the server says so, and the badge follows.
  document.addEventListener("live:live_paused", function () { setLive("off"); });
  document.addEventListener("live:live_resumed", function () { setLive("on"); });
  document.addEventListener("htmx:wsOpen", function () {
    fetch("/ready").then(function (r) { if (!r.ok) setLive("off"); }, function () {});
  });
  // Each pushed fragment names its event; page regions that show private data (my orders,
  // my fills) listen for "live:<event>" and refetch themselves over HTTP.
  document.addEventListener("htmx:wsAfterMessage", function (e) {
    var m = /data-live-event="([a-z_]+)"/.exec(e.detail.message || "");
    if (m) htmx.trigger(document.body, "live:" + m[1], {});
  });

  // After a server restart (or when the session ended) the socket is refused over and over.
  // When it closes, ask a signed-in page whether we are still signed in; if not, stop
  // reconnecting and say so, with a link to sign in again.
  var signedOut = false, lastCheck = 0, pendingCheck = null, CHECK_GAP_MS = 2000;
  var DEAD_SOCKET = { readyState: 3, addEventListener: function () {}, removeEventListener: function () {},
    close: function () {}, send: function () {} };
  if (window.htmx && htmx.createWebSocket) {
    var connect = htmx.createWebSocket;
    htmx.createWebSocket = function (url) { return signedOut ? DEAD_SOCKET : connect(url); };
  }
  function sessionEnded() {
    signedOut = true;
    setLive("off");
    var note = document.getElementById("session-ended");
    if (note) note.hidden = false;
  }
  function checkSession() {
    if (signedOut) return;
    // at most one check every CHECK_GAP_MS; a close within the gap is checked when it ends
    // (not dropped: the session may have ended just after the last check)
    var wait = lastCheck + CHECK_GAP_MS - Date.now();
    if (wait > 0) {
      if (!pendingCheck) pendingCheck = setTimeout(function () { pendingCheck = null; checkSession(); }, wait);
      return;
    }
    lastCheck = Date.now();
    // a redirect to the sign-in form means signed out (and logs no console error, as a 401 would)
    fetch("/live", { credentials: "same-origin", redirect: "manual" })
      .then(function (r) {
        if (r.type === "opaqueredirect" || r.status === 401 || r.status === 403) sessionEnded();
      }, function () {});
  }
  document.addEventListener("htmx:wsClose", checkSession);
  document.addEventListener("htmx:wsError", checkSession);

  // No trigger filters in the templates: htmx evaluates them as code, which the Content
  // Security Policy (script-src 'self', no 'unsafe-eval') forbids. Their two uses live here.
  // A region that refreshes itself on live events waits while a form in it is open (an order
  // being edited); saving or going back brings the fresh table.
  document.addEventListener("htmx:confirm", function (e) {
    var el = e.detail.elt, ev = e.detail.triggeringEvent;
    if (el && el.hasAttribute("data-defer-while-editing") && ev && /^live:/.test(ev.type) &&
        el.querySelector("form")) e.preventDefault();
  });
  // A member's own live messages (#live-notices) close with their × button.
  document.addEventListener("click", function (e) {
    var b = e.target && e.target.closest && e.target.closest("[data-dismiss]");
    if (b && b.parentElement) b.parentElement.remove();
  });
  // Print buttons (no inline handlers: the CSP allows scripts from this site only).
  document.addEventListener("click", function (e) {
    if (e.target && e.target.closest && e.target.closest("[data-print]")) window.print();
  });
  // The order form's price hint follows the chosen interval and metering point.
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t && t.form && (t.name === "interval_id" || t.name === "metering_point_id")) {
      htmx.trigger(t.form, "klaster:hint", {});
    }
  });

  function pad(n) { return (n < 10 ? "0" : "") + n; }
  function tick() {
    var now = Date.now() + (window.klasterClockOffset || 0);
    var speed = parseFloat(document.body.dataset.clockSpeed || "1");
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      if (!el.dataset.rendered) el.dataset.rendered = String(Date.now());  // swapped in since
      var target = Date.parse(el.dataset.countdown);
      var anchor = Date.parse(el.dataset.now || "");
      var rendered = parseFloat(el.dataset.rendered || "0");
      var marketNow = anchor ? anchor + (now - rendered) * speed : now;
      var left = Math.max(0, Math.round((target - marketNow) / 1000 / speed));
      el.textContent = left >= 3600 ? Math.floor(left / 3600) + ":" + pad(Math.floor(left % 3600 / 60)) + ":" + pad(left % 60)
        : Math.floor(left / 60) + ":" + pad(left % 60);
      el.classList.toggle("soon", left < 30);
    });
  }
  function stamp(root) {
    (root || document).querySelectorAll("[data-countdown]").forEach(function (el) {
      if (!el.dataset.rendered) el.dataset.rendered = String(Date.now());
    });
  }
  // A table wider than its box scrolls sideways: keyboard users reach it with Tab (a named,
  // focusable region); a table that fits adds no tab stop.
  function markScrollable() {
    document.querySelectorAll(".table-wrap").forEach(function (w) {
      if (w.scrollWidth > w.clientWidth + 1) {
        if (w.hasAttribute("tabindex")) return;
        var box = w.closest("section, form, main");
        var title = box && box.querySelector("h1, h2, h3, caption, legend");
        w.tabIndex = 0;
        w.setAttribute("role", "region");
        w.setAttribute("aria-label", (title && title.textContent.trim()) || document.title);
      } else if (w.getAttribute("tabindex") === "0") {
        w.removeAttribute("tabindex");
        w.removeAttribute("role");
        w.removeAttribute("aria-label");
      }
    });
  }
  var resizing = 0;
  window.addEventListener("resize", function () {
    cancelAnimationFrame(resizing);
    resizing = requestAnimationFrame(markScrollable);
  });
  document.addEventListener("DOMContentLoaded", function () {
    stamp(); tick(); setInterval(tick, 1000); markScrollable();
  });
  document.addEventListener("htmx:afterSettle", function (e) { stamp(e.target); tick(); markScrollable(); });
  document.addEventListener("htmx:oobAfterSwap", function (e) { stamp(e.detail.target); tick(); markScrollable(); });
})();
