// Live schema page: draw the Mermaid ER diagram from its JSON source (CSP: no inline script, no inline style).
(() => {
  "use strict";
  async function draw() {
    const target = document.getElementById("schema-diagram");
    if (!target || !window.mermaid) return;
    const status = target.querySelector("[data-diagram-status]");
    const source = JSON.parse(document.getElementById(target.dataset.source).textContent);
    window.mermaid.initialize({ startOnLoad: false, securityLevel: "strict", theme: "neutral" });
    try {
      const { svg } = await window.mermaid.render("schema-diagram-svg", source);
      target.innerHTML = svg;
      target.dataset.rendered = "true";
    } catch (error) {
      status.textContent = `The diagram could not be drawn: ${error.message || error}`;
    }
  }
  document.addEventListener("DOMContentLoaded", draw);
})();
