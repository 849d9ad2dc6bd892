// SchemaAdmin's own script: show every <time datetime> in the viewer's timezone, on load and after htmx swaps.
(function () {
  "use strict";
  const format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", timeZoneName: "short",
  });
  function localise(root) {
    root.querySelectorAll("time[datetime]:not([data-localised])").forEach(function (el) {
      const instant = new Date(el.getAttribute("datetime"));
      if (isNaN(instant)) return;
      el.title = el.textContent;  // keep the UTC reading on hover
      el.textContent = format.format(instant);
      el.dataset.localised = "1";
    });
  }
  document.addEventListener("DOMContentLoaded", function () { localise(document); });
  // Filter forms send every field; leave the empty ones out, so pushed URLs are short links worth sharing.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get") return;
    const params = event.detail.parameters;
    Object.keys(params).forEach(function (key) { if (params[key] === "") delete params[key]; });
  });
  document.addEventListener("htmx:load", function (event) { localise(event.target); });
})();
