// A thread opened at a search hit: bring the first marked term of the hit into view, not only the message's top
// (a long message can hold it a screen or more further down).
(function () {
  "use strict";
  function showHit() {
    const mark = document.querySelector("article.message.focus mark");
    if (mark) mark.scrollIntoView({ block: "center" });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", showHit);
  } else {
    showHit();
  }
})();
