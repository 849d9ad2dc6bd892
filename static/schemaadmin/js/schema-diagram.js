// The schema diagram. In its own document (/schema/tables/diagram/): draw the Mermaid source, then tell the
// framing schema page how tall it is. On the schema page: size the frame to that height. No inline code or style.
(() => {
  "use strict";
  const MESSAGE = "schemaadmin:diagram-height";

  async function draw(target) {
    const status = target.querySelector("[data-diagram-status]");
    const source = JSON.parse(document.getElementById(target.dataset.source).textContent);
    // At its natural size: a schema of twenty tables shrunk to the frame's width has unreadable names; the frame
    // scrolls instead.
    window.mermaid.initialize({
      startOnLoad: false, securityLevel: "strict", theme: "neutral", er: { useMaxWidth: false },
    });
    try {
      const { svg } = await window.mermaid.render("schema-diagram-svg", source);
      target.innerHTML = svg;
      target.dataset.rendered = "true";
    } catch (error) {
      status.textContent = `The diagram could not be drawn: ${error.message || error}`;
    }
    if (window.parent !== window) {
      // The drawing's own height and its scroll bar: the document's scrollHeight is never less than the frame, so
      // the frame could not shrink to a small drawing.
      const height = target.offsetTop + target.scrollHeight + (target.offsetHeight - target.clientHeight);
      window.parent.postMessage({ type: MESSAGE, height }, window.location.origin);
    }
  }

  function fit(frame) {
    window.addEventListener("message", (event) => {
      if (event.origin !== window.location.origin || event.source !== frame.contentWindow) return;
      if (!event.data || event.data.type !== MESSAGE) return;
      const height = Math.min(Math.max(Number(event.data.height) || 0, 160), window.innerHeight * 0.85);
      frame.style.height = `${Math.ceil(height)}px`;  // CSSOM, which the policy allows
    });
  }

  // A deferred script runs once the document is parsed: both elements, if any, exist by now.
  const target = document.getElementById("schema-diagram");
  if (target && window.mermaid) draw(target);
  const frame = document.getElementById("schema-diagram-frame");
  if (frame) fit(frame);
})();
