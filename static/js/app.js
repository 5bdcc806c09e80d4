// OMTX-Hub page script. Loaded after htmx; kept deliberately small.
//
// CSRF: the server renders <meta name="csrf-token" content="..."> in every
// page; every htmx request carries it back as the X-CSRF-Token header.
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
})();
