// Index and table health pages: "Copy" buttons beside fix SQL (hidden until this script runs).
(() => {
  "use strict";
  function wire(root) {
    root.querySelectorAll("[data-copy-target]").forEach((button) => {
      if (!navigator.clipboard) return;
      button.hidden = false;
      button.addEventListener("click", async () => {
        const source = document.getElementById(button.dataset.copyTarget);
        await navigator.clipboard.writeText(source.innerText);
        button.textContent = "Copied";
        setTimeout(() => { button.textContent = "Copy"; }, 1500);
      });
    });
  }
  document.addEventListener("DOMContentLoaded", () => wire(document));
})();
