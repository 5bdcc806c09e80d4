// OMTX-Hub page script. Loaded after htmx; kept deliberately small.
//
// CSRF: the server renders <meta name="csrf-token" content="..."> in every
// page; every htmx request carries it back as the X-CSRF-Token header.
//
// Live pages: htmx's ws extension opens ws-connect="/ws?since=SEQ" and
// swaps the HTML fragments the server pushes out of band. Every message
// updates #live-status[data-live-seq] with the last change it carries; a
// reconnect (the extension's own, after a dropped connection, or ours
// after the server went away for a restart) asks for since= that seq, so
// the server catches the page up on exactly what it missed.
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : null;
  }

  document.addEventListener("htmx:configRequest", function (evt) {
    var token = csrfToken();
    if (token) {
      evt.detail.headers["X-CSRF-Token"] = token;
    }
  });

  if (typeof htmx === "undefined") {
    return;
  }

  // The last change seq the page has seen, from the live indicator.
  function liveSeq() {
    var el = document.getElementById("live-status");
    var seq = el && el.getAttribute("data-live-seq");
    return seq && /^[0-9]+$/.test(seq) ? seq : null;
  }

  // Every (re)connect asks for the changes after the last one seen.
  htmx.createWebSocket = function (url) {
    var seq = liveSeq();
    if (seq !== null) {
      var u = new URL(url, location.href);
      u.searchParams.set("since", seq);
      url = u.toString();
    }
    var socket = new WebSocket(url, []);
    socket.binaryType = htmx.config.wsBinaryType;
    return socket;
  };

  function setState(state, text) {
    var el = document.getElementById("live-status");
    if (!el || el.getAttribute("data-state") === "stale") {
      return; // "updates were missed" stays until the page reloads
    }
    el.setAttribute("data-state", state);
    el.textContent = text;
  }

  document.addEventListener("htmx:wsClose", function (evt) {
    var code = evt.detail && evt.detail.event ? evt.detail.event.code : 0;
    if (code === 1000) {
      return; // the server asked for a reload: its notice says so
    }
    setState("off", "Reconnecting…");
    // 1001: the server is going away (a restart); the extension only
    // reconnects after abnormal closes, so try again in a few seconds.
    if (code === 1001 && evt.detail.socketWrapper) {
      setTimeout(evt.detail.socketWrapper.reconnect, 2000 + Math.random() * 3000);
    }
  });

  // live-oob hands a live message to htmx.swap, which swaps its
  // out-of-band elements, the result rows too: rows come wrapped in a
  // <template> (a <tr> parses nowhere else), which htmx.swap looks into
  // and the ws extension's own per-element swap does not. Parts this page
  // does not show (a batch on another page of the list, a row filtered
  // out) are dropped first, which htmx would report as missing targets.
  htmx.defineExtension("live-oob", {
    transformResponse: function (text, xhr, elt) {
      var t = document.createElement("template");
      t.innerHTML = text;
      var drop = function (parent) {
        Array.prototype.slice.call(parent.children).forEach(function (el) {
          if (el.tagName === "TEMPLATE") {
            drop(el.content);
          } else if (el.hasAttribute("hx-swap-oob") && el.id && !document.getElementById(el.id)) {
            el.remove();
          }
        });
      };
      drop(t.content);
      htmx.swap(elt, t.innerHTML, { swapStyle: "none" });
      return "";
    }
  });
})();
