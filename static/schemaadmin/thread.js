// A thread opened at a search hit: bring the first marked term of the hit into view, not only the message's top
// (a long message can hold it a screen or more further down), and lead "Back to the search" to the search as it was.
(function () {
  "use strict";
  function showHit() {
    const mark = document.querySelector("article.message.focus mark");
    if (mark) mark.scrollIntoView({ block: "center" });
  }
  // The list remembered its address (schemaadmin.js): the same search, with its filters and page, if the text agrees.
  function backToSearch() {
    const link = document.querySelector("a[data-back-to-search]");
    let saved = null;
    try { saved = window.sessionStorage.getItem("schemaadmin:search"); } catch (error) { return; }
    if (!link || !saved) return;
    const search = new URL(saved, window.location.href);
    const plain = new URL(link.href);
    if (search.origin === plain.origin && search.pathname === plain.pathname
        && search.searchParams.get("q") === plain.searchParams.get("q")) {
      link.href = search.href;
    }
  }
  function ready() {
    backToSearch();
    showHit();
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", ready);
  } else {
    ready();
  }
  // The browser scrolls to the link's #m<id> once the page has loaded, to the message's top: after that, again.
  window.addEventListener("load", function () { window.requestAnimationFrame(showHit); });
})();
