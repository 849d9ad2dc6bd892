// The live schema's table cards start collapsed: a link to one (contents, a foreign key, a shared URL) opens it;
// "Expand all" and "Collapse all" do what they say.
(() => {
  "use strict";
  function openTarget() {
    const id = decodeURIComponent(window.location.hash.slice(1));
    const card = id && document.getElementById(id);
    if (card && card.tagName === "DETAILS") {
      card.open = true;
      card.scrollIntoView({ block: "start" });
    }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
  const cards = () => document.querySelectorAll("details.schema-table");
  document.querySelectorAll("[data-expand-all], [data-collapse-all]").forEach((button) => {
    button.hidden = false;
    button.addEventListener("click", () => {
      const open = button.hasAttribute("data-expand-all");
      cards().forEach((card) => { card.open = open; });
    });
  });
})();
