// A thread opened at a search hit: bring the first marked term of the hit into view, not only the message's top
// (a long message can hold it a screen or more further down). "Back to the search" is written by the server (back).
(function () {
  "use strict";
  function showHit() {
    const mark = document.querySelector("article.message.focus mark");
    if (mark) mark.scrollIntoView({ block: "center" });
  }
  function ready() {
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
