// The schema diagram. In its own document (/schema/tables/diagram/): draw the Mermaid source, then tell the
// framing schema page how tall it is. On the schema page: size the frame to that height. No inline code or style.
(() => {
  "use strict";
  const MESSAGE = "schemaadmin:diagram-height";
  // Framed in the schema page, the way back to that page led to the page it is in: shown in the diagram's own tab only.
  if (window.parent !== window) {
    const back = document.querySelector(".diagram-back");
    if (back) back.hidden = true;
  }
  // Mermaid writes names at 16 px: below this scale (about 7 px) they cannot be read, even on a sharp phone screen.
  const READABLE_SCALE = 0.45;
  // Mermaid's own dark theme leaves edge labels at less than 4.5:1; these match Bootstrap's dark scheme.
  const DARK = {
    theme: "base",
    themeVariables: {
      darkMode: true, background: "#212529", primaryColor: "#2b3035", primaryTextColor: "#dee2e6",
      primaryBorderColor: "#6c757d", lineColor: "#adb5bd", textColor: "#dee2e6", edgeLabelBackground: "#2b3035",
      tertiaryColor: "#343a40", secondaryColor: "#343a40", attributeBackgroundColorOdd: "#2b3035",
      attributeBackgroundColorEven: "#343a40",
    },
  };

  async function draw(target) {
    const status = target.querySelector("[data-diagram-status]");
    const source = JSON.parse(document.getElementById(target.dataset.source).textContent);
    // At its natural size: a schema of twenty tables shrunk to the frame's width has unreadable names; the frame
    // scrolls instead.
    window.mermaid.initialize({
      startOnLoad: false, securityLevel: "strict", er: { useMaxWidth: false },
      // theme.js set the scheme before this ran; a change of scheme redraws (see below).
      ...(document.documentElement.getAttribute("data-bs-theme") === "dark" ? DARK : { theme: "neutral" }),
    });
    try {
      const { svg } = await window.mermaid.render("schema-diagram-svg", source);
      target.innerHTML = svg;
      zoomable(target);
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

  // Zoom with the toolbar or Ctrl/Cmd + wheel (about the pointer), fit the drawing to the view, pan by dragging.
  function zoomable(target) {
    const svg = target.querySelector("svg");
    const toolbar = document.querySelector("[data-testid=diagram-toolbar]");
    if (!svg || !toolbar || !svg.viewBox.baseVal || !svg.viewBox.baseVal.width) return;
    const natural = { width: svg.viewBox.baseVal.width, height: svg.viewBox.baseVal.height };
    let scale = 1;
    function zoomTo(next, x = target.clientWidth / 2, y = target.clientHeight / 2) {
      // Never smaller than a tenth, unless that is what it takes to see the whole drawing (a phone, many tables).
      const bounded = Math.min(4, Math.max(Math.min(0.1, target.clientWidth / natural.width), next));
      // Keep the drawing's point under (x, y) where it is.
      const pointX = (target.scrollLeft + x) / scale;
      const pointY = (target.scrollTop + y) / scale;
      scale = bounded;
      svg.style.maxWidth = "none";
      svg.style.width = `${natural.width * scale}px`;
      svg.style.height = `${natural.height * scale}px`;
      target.scrollLeft = pointX * scale - x;
      target.scrollTop = pointY * scale - y;
      target.dataset.scale = scale.toFixed(3);
    }
    function fitToView() {
      const available = window.innerHeight - toolbar.offsetHeight - 8;
      zoomTo(Math.min(target.clientWidth / natural.width, available / natural.height));
      target.scrollLeft = 0;
      target.scrollTop = 0;
    }
    toolbar.hidden = false;
    toolbar.addEventListener("click", (event) => {
      const action = event.target.closest("button[data-zoom]")?.dataset.zoom;
      if (action === "in") zoomTo(scale * 1.25);
      else if (action === "out") zoomTo(scale / 1.25);
      else if (action === "fit") fitToView();
      else if (action === "reset") zoomTo(1);
    });
    target.addEventListener("wheel", (event) => {
      if (!event.ctrlKey && !event.metaKey) return;  // a plain wheel scrolls, as everywhere
      event.preventDefault();
      const rect = target.getBoundingClientRect();
      zoomTo(scale * (event.deltaY < 0 ? 1.1 : 1 / 1.1), event.clientX - rect.left, event.clientY - rect.top);
    }, { passive: false });
    let drag = null;
    target.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      drag = { x: event.clientX, y: event.clientY, left: target.scrollLeft, top: target.scrollTop };
      target.setPointerCapture(event.pointerId);
      target.classList.add("panning");
    });
    target.addEventListener("pointermove", (event) => {
      if (!drag) return;
      target.scrollLeft = drag.left - (event.clientX - drag.x);
      target.scrollTop = drag.top - (event.clientY - drag.y);
    });
    const stop = () => { drag = null; target.classList.remove("panning"); };
    target.addEventListener("pointerup", stop);
    target.addEventListener("pointercancel", stop);
    // Open fitted to the width (a phone sees the whole drawing) unless that would shrink the names past reading:
    // then at full size from its left edge, Fit at hand in the toolbar.
    const fitted = target.clientWidth / natural.width;
    zoomTo(fitted >= 1 || fitted < READABLE_SCALE ? 1 : fitted);
    target.scrollLeft = 0;
    target.scrollTop = 0;
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
  if (target && window.mermaid) {
    draw(target);
    document.addEventListener("schemaadmin:theme", () => draw(target));
  }
  const frame = document.getElementById("schema-diagram-frame");
  if (frame) fit(frame);
})();
