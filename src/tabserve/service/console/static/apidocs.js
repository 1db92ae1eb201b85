// Starts Swagger UI or ReDoc (both loaded from this server) on the /docs and /redoc pages.
const swagger = document.getElementById("swagger-ui");
if (swagger && window.SwaggerUIBundle) {
  window.SwaggerUIBundle({ url: swagger.dataset.openapi, dom_id: "#swagger-ui", deepLinking: true });
}
const redoc = document.getElementById("redoc");
if (redoc && window.Redoc) {
  window.Redoc.init(redoc.dataset.openapi, {}, redoc);
}
