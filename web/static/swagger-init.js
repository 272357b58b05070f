/* Starts the vendored Swagger UI on /schema (web/app.py OfflineSwaggerPlugin). A file, not an
   inline script, so the Content-Security-Policy needs no 'unsafe-inline'. */
(function () {
  "use strict";
  var el = document.getElementById("swagger-ui");
  if (!el || !window.SwaggerUIBundle) return;
  window.ui = window.SwaggerUIBundle({
    url: el.dataset.specUrl,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
})();
