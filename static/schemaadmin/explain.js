// Draw each EXPLAIN plan with PEV2 (Vue 3 global build), on load and after htmx swaps in a new result.
// Loaded before PEV2: its Font Awesome would inject a <style> element, which the CSP refuses; the page links
// Font Awesome's stylesheet instead.
window.FontAwesomeConfig = Object.assign({}, window.FontAwesomeConfig, { autoAddCss: false });
(function () {
  "use strict";
  // PEV2's bars carry role=progressbar without a name (axe: aria-progressbar-name): name them by their title or
  // the row they measure.
  function label(host) {
    host.querySelectorAll('[role="progressbar"]:not([aria-label])').forEach(function (bar) {
      const row = bar.closest(".plan-node, tr, li");
      const name = bar.getAttribute("title") || (row && row.querySelector(".node-type") ? row.querySelector(".node-type").textContent.trim() : "");
      bar.setAttribute("aria-label", name ? "share of " + name : "share of the plan");
    });
  }
  function draw(host) {
    const plan = document.getElementById(host.dataset.pev2);
    const query = document.getElementById(host.dataset.pev2Query);
    if (!plan) return;
    host.dataset.mounted = "1";
    // A render function, not a template string: nothing to compile, so no eval under the CSP.
    window.Vue.createApp({
      render: function () {
        return window.Vue.h(window.pev2.Plan, {
          planSource: JSON.stringify(JSON.parse(plan.textContent), null, 2),
          planQuery: query ? JSON.parse(query.textContent) : "",
        });
      },
    }).mount(host);
    label(host);
    new MutationObserver(function () { label(host); }).observe(host, { childList: true, subtree: true });
  }
  // A plan with more nodes than the server's limit (data-pev2-deferred) is drawn only when asked: PEV2 holds the
  // browser while it draws, a minute for 900 nested nodes. Its button shows once there is something to draw with.
  function mount(root) {
    if (!window.Vue || !window.pev2) return;
    root.querySelectorAll("[data-pev2]:not([data-mounted])").forEach(function (host) {
      if (!host.hasAttribute("data-pev2-deferred")) {
        draw(host);
        return;
      }
      document.querySelectorAll('[data-pev2-draw="' + host.id + '"]').forEach(function (button) { button.hidden = false; });
    });
  }
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-pev2-draw]");
    const host = button && document.getElementById(button.dataset.pev2Draw);
    if (!host || host.dataset.mounted) return;
    button.disabled = true;
    button.textContent = "Drawing the diagram…";
    host.removeAttribute("data-pev2-deferred");
    host.hidden = false;
    // Drawn after the browser has painted the button's new words, since the drawing holds it.
    window.requestAnimationFrame(function () {
      window.setTimeout(function () {
        draw(host);
        button.hidden = true;
      }, 0);
    });
  });
  window.addEventListener("load", function () { mount(document); });
  // Ctrl/Cmd+Enter runs the query from the plain textarea too (the CodeMirror editor binds the same keys).
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    const field = event.target.closest && event.target.closest("#explain-form textarea[name=sql]");
    if (!field) return;
    event.preventDefault();
    field.form.requestSubmit();
  });
  document.addEventListener("htmx:load", function (event) { mount(event.target); });
  // Presets fill the editor in place when scripts run (their links work without them).
  document.addEventListener("click", function (event) {
    const link = event.target.closest("a[data-preset]");
    const editor = document.querySelector("#explain-form textarea[name=sql]");
    if (!link || !editor) return;
    event.preventDefault();
    const params = new URL(link.href).searchParams;
    editor.value = params.get("sql") || "";
    editor.dispatchEvent(new Event("sql:set"));  // the CodeMirror editor over it, when there is one, follows
    const ef = document.querySelector("#explain-form input[name=ef_search]");
    if (ef) ef.value = params.get("ef_search") || "";
    const compare = document.querySelector("#explain-form input[name=compare]");
    if (compare) compare.checked = params.get("compare") === "seqscan_off";
  });
})();
