// SchemaAdmin's own script, on every page: times in the viewer's zone, wide tables that scroll in place,
// the collapsing navigation, the colour-scheme toggle, keyboard shortcuts, polled regions that yield to a click and
// htmx requests that failed, said where they were asked.
(function () {
  "use strict";

  // --- Times (schemaadmin/formats.py writes <time datetime title data-when> in UTC) ---------------------------
  const parts = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit",
    hourCycle: "h23", timeZoneName: "short",
  });
  function pieces(instant) {
    const out = {};
    parts.formatToParts(instant).forEach(function (p) { out[p.type] = p.value; });
    return out;
  }
  function age(instant) {
    const seconds = Math.round((Date.now() - instant.getTime()) / 1000);
    const future = seconds < 0;
    const s = Math.abs(seconds);
    let text;
    if (s < 45) text = s + " s";
    else if (s < 3600) text = Math.round(s / 60) + " min";
    else if (s < 86400 * 2) text = Math.round(s / 3600) + " h";
    else text = Math.round(s / 86400) + " days";
    if (s < 5) return "just now";
    return future ? "in " + text : text + " ago";
  }
  function showTime(el) {
    const instant = new Date(el.getAttribute("datetime"));
    if (isNaN(instant)) return;
    const p = pieces(instant);
    const styles = (el.dataset.when || "").split(" ");
    const clock = styles.includes("time") || styles.includes("log");
    let text = p.hour + ":" + p.minute;
    // A time of day after another instant (a job's finish after its start) shows its date on a day of its own.
    const dayOf = el.dataset.dayOf ? pieces(new Date(el.dataset.dayOf)) : null;
    const otherDay = dayOf && (dayOf.year !== p.year || dayOf.month !== p.month || dayOf.day !== p.day);
    if (clock) text = (otherDay ? p.year + "-" + p.month + "-" + p.day + " " : "") + text + ":" + p.second;
    else text = p.year + "-" + p.month + "-" + p.day + " " + text + (styles.includes("seconds") ? ":" + p.second : "");
    // Log lines sit under a heading that names the zone; every other time names it itself.
    if (!styles.includes("log")) text += " " + p.timeZoneName;
    el.textContent = text;
    if (styles.includes("ago")) {
      // The age may go to the next line where the time itself keeps one (see .when-age).
      const ago = document.createElement("span");
      ago.className = "when-age";
      ago.textContent = " (" + age(instant).replace(/ /g, "\u00a0") + ")";  // "(24 s ago)" in one piece
      el.append(ago);
    }
    el.dataset.localised = "1";
  }
  function zoneName() { return pieces(new Date()).timeZoneName; }
  function localise(root) {
    root.querySelectorAll("time[datetime]").forEach(showTime);
    root.querySelectorAll("[data-local-zone]").forEach(function (el) { el.textContent = zoneName(); });
  }
  // Ages go stale on a page kept open all day.
  function refreshAges() { document.querySelectorAll('time[data-when~="ago"]').forEach(showTime); }
  window.setInterval(refreshAges, 30000);
  // A polled part of the page brings fresh "… ago" times: the others on the page are brought up to date with it, so
  // two times of one instant never disagree ("requested just now" beside "started 7 s ago").
  document.addEventListener("htmx:afterSettle", refreshAges);

  // --- Wide tables scroll inside their own box, never the page -------------------------------------------------
  function contain(root) {
    const tables = Array.from(root.querySelectorAll("main table"));
    if (root.matches && root.matches("main table")) tables.push(root);
    tables.forEach(function (table) {
      if (table.closest(".table-responsive")) return;
      const box = document.createElement("div");
      box.className = "table-responsive";
      table.parentNode.insertBefore(box, table);
      box.appendChild(table);
    });
    // A box that scrolls must be reachable by keyboard (axe: scrollable-region-focusable).
    root.querySelectorAll(".table-responsive, pre").forEach(function (box) {
      if (!box.hasAttribute("tabindex")) box.setAttribute("tabindex", "0");
    });
  }

  // --- Navigation that collapses on narrow screens ---------------------------------------------------------------
  function setUpNavigation() {
    const toggler = document.querySelector("[data-nav-toggle]");
    const menu = document.getElementById("main-menu");
    if (!toggler || !menu) return;
    toggler.addEventListener("click", function () {
      const open = menu.classList.toggle("show");
      toggler.setAttribute("aria-expanded", open ? "true" : "false");
    });
    // The bar's <details> menus ("More", the account): one open at a time, closed by a click elsewhere or Escape.
    const menus = Array.from(document.querySelectorAll("[data-nav-menu]"));
    menus.forEach(function (details) {
      details.addEventListener("toggle", function () {
        if (details.open) menus.forEach(function (other) { if (other !== details) other.open = false; });
      });
    });
    document.addEventListener("click", function (event) {
      menus.forEach(function (details) { if (details.open && !details.contains(event.target)) details.open = false; });
    });
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") return;
      menus.forEach(function (details) {
        if (!details.open) return;
        details.open = false;
        details.querySelector("summary").focus();
      });
    });
  }

  // --- On a phone a .cards-on-phone table's row is a card (schemaadmin.css): each cell is labelled with its
  // column's header, unless the server named it (data-label). A cell spanning columns says what it says alone.
  function labelCells(root) {
    const tables = Array.from(root.querySelectorAll("table.cards-on-phone"));
    const own = root.closest ? root.closest("table.cards-on-phone") : null;  // htmx may swap in a table's rows alone
    if (own) tables.push(own);
    tables.forEach(function (table) {
      const headers = [];
      // Its own header and rows only (:scope), not a table nested in a cell.
      table.querySelectorAll(":scope > thead > tr:first-child > th").forEach(function (th) {
        const shown = th.cloneNode(true);  // what the header shows: not its words for screen readers alone
        shown.querySelectorAll(".visually-hidden").forEach(function (hidden) { hidden.remove(); });
        const text = shown.textContent.replace(/[↕↑↓▲▼]/g, "").replace(/\s+/g, " ").trim();
        for (let i = 0; i < th.colSpan; i++) headers.push(text);
      });
      table.querySelectorAll(":scope > tbody > tr").forEach(function (row) {
        let column = 0;
        Array.from(row.children).forEach(function (cell) {
          // The first cell is the card's title (a name, a pid): it goes unlabelled, as the browsing tables' do.
          const labelled = column > 0 && cell.colSpan === 1 && !cell.hasAttribute("data-label") && headers[column];
          if (labelled) cell.dataset.label = headers[column];
          column += cell.colSpan;
        });
      });
    });
  }

  // --- A filter form's other filters, folded on a phone behind "More filters" (CSS: .filters.folded) -------------
  function showFilters(form, folded) {
    const toggle = form.querySelector("[data-filters-toggle]");
    form.classList.toggle("folded", folded);
    toggle.setAttribute("aria-expanded", folded ? "false" : "true");
    toggle.textContent = folded ? "More filters" : "Fewer filters";
  }
  // Run on every page and on what htmx swaps in (a history restore brings the form back as new elements).
  function setUpFilterFolding(root) {
    const forms = Array.from(root.querySelectorAll("form[data-filters]"));
    if (root.matches && root.matches("form[data-filters]")) forms.push(root);
    forms.forEach(function (form) {
      followSearch(form);  // a history restore brings back the disabled state of the search box's text then
      const toggle = form.querySelector("[data-filters-toggle]");
      if (!toggle || !toggle.hidden) return;  // set up already (its state kept), or no button
      showFilters(form, form.hasAttribute("data-filters-fold"));  // without this script every filter stays in view
      toggle.hidden = false;
    });
  }
  // A search lists messages, always newest first: the fields it does not use ([data-unused-in-search], the
  // conversations' order) are disabled while the search box has text, so none seems to do something it does not.
  function followSearch(form) {
    const search = form.querySelector("input[name=q]");
    if (!search) return;
    const searching = search.value.trim() !== "";
    form.querySelectorAll("[data-unused-in-search]").forEach(function (field) {
      if (!("titleOwn" in field.dataset)) field.dataset.titleOwn = field.title;  // its own title, given back after
      field.disabled = searching;
      field.title = searching ? field.dataset.unusedInSearch : field.dataset.titleOwn;
      if ("searchChoice" in field.dataset) showSearchChoice(field, searching);
    });
    // A filter that means one thing on the list and another on a search ([data-search-label]) is named for it.
    form.querySelectorAll("[data-search-label]").forEach(function (field) {
      const label = field.id && form.querySelector('label[for="' + CSS.escape(field.id) + '"]');
      if (label) label.textContent = searching ? field.dataset.searchLabel : field.dataset.listLabel;
    });
  }
  // A disabled order names the order a search uses, not the one it ignores; the chosen one comes back after.
  function showSearchChoice(select, searching) {
    let shown = select.querySelector("option[data-search-choice]");
    if (searching && !shown) {
      select.dataset.chosen = select.value;
      shown = new Option(select.dataset.searchChoice, "", true, true);
      shown.dataset.searchChoice = "";
      select.add(shown, 0);
    } else if (!searching && shown) {
      shown.remove();
      select.value = select.dataset.chosen;
    }
  }
  document.addEventListener("input", function (event) {
    const form = event.target.matches("input[name=q]") && event.target.closest("form[data-filters]");
    if (form) followSearch(form);
  });
  document.addEventListener("click", function (event) {
    const toggle = event.target.closest("[data-filters-toggle]");
    const form = toggle && toggle.closest("form[data-filters]");
    if (form) showFilters(form, !form.classList.contains("folded"));
  });
  // A value the browser refuses (a number below its minimum) stops the submit and must be shown: unfold.
  document.addEventListener("invalid", function (event) {
    const form = event.target.closest && event.target.closest("form[data-filters].folded");
    if (form) showFilters(form, false);
  }, true);
  // A filter refused (400) is shown: unfold the filters, whatever the person folded since.
  document.addEventListener("htmx:afterRequest", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 400) {
      document.querySelectorAll("form[data-filters].folded").forEach(function (form) { showFilters(form, false); });
    }
  });
  // ... and its sentence is brought into view: on a phone, under the unfolded filters, it was a screen below the
  // search box pressed Enter in. The focus stays where the person was typing.
  document.addEventListener("htmx:afterSettle", function (event) {
    const target = event.detail.target;
    if (!event.detail.xhr || event.detail.xhr.status !== 400 || !target) return;
    // Swapped outerHTML, the target is the element replaced: its successor has its id.
    const region = (target.id && document.getElementById(target.id)) || target;
    const said = region.querySelector("[role=alert]");
    if (!said) return;
    const box = said.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) said.scrollIntoView({ block: "nearest" });
  });

  // --- The focus, when what held it is swapped out ----------------------------------------------------------------
  // A pager's "Next ›" or "Load older messages" is replaced with what it loads, and the focus fell to <body>: the next
  // Tab started again at "Skip to content". It goes to the same control in what came in (the pager's link of the same
  // rel, the next "Load older"), else, on the last page or at the thread's start, to the first message loaded or the
  // region swapped in.
  let focusLost = null;
  function focusKey(el) {
    if (el.getAttribute("rel")) return '[rel="' + el.getAttribute("rel") + '"]';
    if (el.classList.contains("load-older")) return ".load-older";
    if (el.classList.contains("load-newer")) return ".load-newer";
    return "";
  }
  function focusable(el) {
    if (!el.matches("a[href], button, input, select, textarea, [tabindex]")) el.setAttribute("tabindex", "-1");
    el.focus();
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    const active = document.activeElement;
    const target = event.detail.target;
    focusLost = active && active !== document.body && target && target.contains(active)
      ? { key: focusKey(active), id: target.id }
      : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    const lost = focusLost;
    focusLost = null;
    if (!lost || (document.activeElement && document.activeElement !== document.body)) return;
    const region = (lost.id && document.getElementById(lost.id)) || null;
    const scope = region || document;
    // Past the last page there is no "Next ›": its "‹ Previous" (and the other way round on the first).
    const other = { '[rel="next"]': '[rel="prev"]', '[rel="prev"]': '[rel="next"]' }[lost.key];
    const same = lost.key && (scope.querySelector(lost.key) || (other && scope.querySelector(other)));
    if (same) { same.focus(); return; }
    // "Load older" at the thread's start: the oldest message; "Load newer" at its end: the newest.
    const messages = document.querySelectorAll("#thread article.message");
    const message = lost.key === ".load-older" ? messages[0] : lost.key === ".load-newer" ? messages[messages.length - 1] : null;
    if (message) { focusable(message); return; }
    if (region) focusable(region);
  });

  // --- Colour scheme toggle: auto → light → dark → auto ---------------------------------------------------------
  const NEXT = { auto: "light", light: "dark", dark: "auto" };
  function showThemeChoice() {
    const button = document.querySelector("[data-theme-toggle]");
    if (!button) return;
    const choice = document.documentElement.dataset.themeChoice || "auto";
    button.querySelector("[data-theme-label]").textContent = choice === "auto" ? "Auto" : choice === "dark" ? "Dark" : "Light";
    button.title = "Colour scheme: " + choice + (choice === "auto" ? " (follows the system)" : "") + "; click for " + NEXT[choice];
  }
  function setUpThemeToggle() {
    const button = document.querySelector("[data-theme-toggle]");
    if (!button || !window.schemaadminTheme) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      window.schemaadminTheme.choose(NEXT[document.documentElement.dataset.themeChoice || "auto"]);
      showThemeChoice();
    });
    showThemeChoice();
  }

  // --- Keyboard: "/" focuses search, "g" then a letter opens a page, "?" lists them ------------------------------
  let pendingG = 0;
  // Whether a key goes into something being typed in. An editor in a shadow root (the EXPLAIN console's CodeMirror)
  // shows the document its host as the key's target, which is none of these: its own element is asked, or "/" in
  // "SELECT 10/2" left the page and the query with it.
  function typing(event) {
    const target = (event.composedPath && event.composedPath()[0]) || event.target;
    return Boolean(target.closest &&
      target.closest("input, textarea, select, [contenteditable=''], [contenteditable='true'], .cm-editor"));
  }
  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey || event.defaultPrevented) return;
    if (typing(event)) return;
    const help = document.getElementById("shortcut-help");
    if (event.key === "?") {
      event.preventDefault();
      if (help && !help.open) help.showModal();
      return;
    }
    if (event.key === "/") {
      const field = searchField();
      if (field) { event.preventDefault(); field.focus(); field.select && field.select(); return; }
      // No search or filter here: the conversation search, its field focused as it opens (#search).
      const search = document.querySelector("[data-search-page]");
      if (search) { event.preventDefault(); window.location.assign(search.getAttribute("href") + "#search"); }
      return;
    }
    if (pendingG && Date.now() - pendingG < 1500) {
      pendingG = 0;
      const link = document.querySelector('[data-shortcut="' + CSS.escape(event.key.toLowerCase()) + '"]');
      if (link) { event.preventDefault(); window.location.assign(link.getAttribute("href")); }
      return;
    }
    if (event.key === "g") pendingG = Date.now();
  }
  // The page's search, else the first field of its filters (a form that reads, GET): a text field (a table's, an
  // index's), or a choice where the filters are only choices (the migrations' App and Show, which "/" left for the
  // conversation search).
  function searchField() {
    const reading = 'main form:not([method="post"]) ';
    return document.querySelector("[data-search-field], main input[type=search], main input[name=q]") ||
      document.querySelector(reading + "input[type=text]:not([hidden]):not([disabled])") ||
      document.querySelector(reading + "select:not([hidden]):not([disabled])");
  }
  function setUpShortcuts() {
    document.addEventListener("keydown", onKey);
    if (window.location.hash === "#search") {  // arrived by "/" from a page without a search
      const field = searchField();
      if (field) field.focus();
    }
    const help = document.getElementById("shortcut-help");
    document.querySelectorAll("[data-shortcut-help]").forEach(function (button) {
      button.addEventListener("click", function () { if (help) help.showModal(); });
    });
    if (help) {
      help.querySelectorAll("[data-close]").forEach(function (button) {
        button.addEventListener("click", function () { help.close(); });
      });
    }
  }

  // --- Signed out (body[data-signed-out]: the sign-in page): forget what this tab's scripts kept of the last
  // person's pages. htmx keeps no page copies (historyCacheSize 0 in base.html): Back asks the server, which asks
  // whoever is at the screen to sign in.
  function forgetSignedOut() {
    if (!document.body.hasAttribute("data-signed-out")) return;
    try { window.sessionStorage.clear(); } catch (error) { /* off */ }
  }

  // --- A form sent as a whole page and refused comes back with its invalid fields marked (aria-invalid, which Django
  // sets): the focus goes to the first, so a screen reader reads it with its error (aria-describedby) and a phone
  // scrolls to it, instead of the top of a long page. A form that was sent: one that posts, or a GET form that is a
  // step of a task (data-focus-invalid: the rebuild form, EXPLAIN's compare), not a list's filters (a list opened
  // from a link with a bad filter does not pop a phone's keyboard up; the refusal is said above its results). Not
  // where something has the focus already (autofocus).
  function focusFirstInvalid() {
    if (document.activeElement && document.activeElement !== document.body) return;
    const field = document.querySelector(
      'form[method="post"] [aria-invalid="true"], form[data-focus-invalid] [aria-invalid="true"]');
    if (field) field.focus();
  }

  // --- A list's filters sent by htmx get only the results back (hx-target), where a refusal names the fields it is
  // about ([data-error-id], the id Django's aria-describedby gives a field's errors). The form still has the marks of
  // the page it came with, or of the last answer: they are taken off, and the fields this answer refuses are marked
  // as a whole page marks them (aria-invalid, described by the refusal's words), so a box stays red only while its
  // value is refused.
  function markRefusedFields(region) {
    if (!region.id) return;
    document.querySelectorAll("form[hx-target]").forEach(function (form) {
      if (form.getAttribute("hx-target") !== "#" + region.id) return;
      form.querySelectorAll('[aria-invalid="true"]').forEach(function (field) {
        field.removeAttribute("aria-invalid");
        const described = (field.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
          return id && id !== field.id + "_error";
        });
        if (described.length) field.setAttribute("aria-describedby", described.join(" "));
        else field.removeAttribute("aria-describedby");
      });
      form.querySelectorAll(".invalid-feedback").forEach(function (said) { said.remove(); });
      region.querySelectorAll("[data-error-id]").forEach(function (said) {
        const field = document.getElementById(said.dataset.errorId.replace(/_error$/, ""));
        if (!field || field.form !== form) return;
        said.id = said.dataset.errorId;
        field.setAttribute("aria-invalid", "true");
        const described = (field.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
        field.setAttribute("aria-describedby", described.concat([said.id]).join(" "));
      });
    });
  }

  // --- Options that belong to one choice of a select ([data-option-of], in a [data-option] box: the rebuild form's m
  // and ef_construction to HNSW, lists to IVFFlat) are shown while that choice is made, or while the select keeps
  // its empty choice and the form's subject has it now (data-current-choice: the index's method). With no choice
  // known (no index chosen yet) all are shown; one with a value or refused stays shown, so nothing sent is hidden.
  function setUpChoiceOptions(root) {
    root.querySelectorAll("select[data-options-choice]").forEach(function (select) {
      function show() {
        const chosen = select.value || select.dataset.currentChoice || "";
        select.form.querySelectorAll("[data-option-of]").forEach(function (option) {
          const box = option.closest("[data-option]") || option;
          box.hidden = chosen !== "" && option.dataset.optionOf !== chosen && option.value === "" &&
            option.getAttribute("aria-invalid") !== "true";
        });
      }
      select.addEventListener("change", show);
      show();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    forgetSignedOut();
    localise(document);
    contain(document);
    setUpNavigation();
    setUpFilterFolding(document);
    setUpChoiceOptions(document);
    labelCells(document);
    setUpThemeToggle();
    setUpShortcuts();
    focusFirstInvalid();
  });
  // Filter forms send every field; leave the empty ones out, so pushed URLs are short links worth sharing.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.verb !== "get") return;
    const params = event.detail.parameters;
    Object.keys(params).forEach(function (key) { if (params[key] === "") delete params[key]; });
  });
  document.addEventListener("htmx:load", function (event) {
    markRefusedFields(event.target);
    localise(event.target);
    contain(event.target);
    setUpFilterFolding(event.target);
    labelCells(event.target);
  });

  // --- A request htmx could not complete is said where it was asked --------------------------------------------
  // base.html's responseHandling swaps 400 and 503 (our own pages saying why); every other 4xx and 5xx, and a request
  // that got no answer at all, swap nothing, and without this the click did nothing visible: a deleted conversation's
  // "Load older messages" (404), Explain after the session changed (403, the last run's plan still on screen as if it
  // were the new one's), a proxy's 502. The alert goes just above the region the request was for, once per region (a
  // poll failing every 2 s says it once), and leaves when a later request for that region is answered.
  const REQUEST_FAILED = {
    gone: "This no longer exists: it may have been deleted since the page was loaded. " +
      "Reload the page to see what is there now",
    refused: "You no longer have permission for this, or your session changed (signed out or in elsewhere): " +
      "reload the page",
    unanswered: "The server did not answer; try again in a moment",
    other: "The server refused it; reload the page and try again",
  };
  function failureSentence(status) {
    if (status === 404 || status === 410) return REQUEST_FAILED.gone;
    if (status === 401 || status === 403) return REQUEST_FAILED.refused;
    if (!status || status >= 500) return REQUEST_FAILED.unanswered;
    return REQUEST_FAILED.other;
  }
  function isPoll(element) {
    const trigger = element && element.getAttribute ? element.getAttribute("hx-trigger") || "" : "";
    return /\bevery\b/.test(trigger);
  }
  // What was asked for, in the words of the control used: a form's submit button ("Explain"), a link's words.
  function requestName(event) {
    const element = asker(event) || event.detail.elt;
    if (!element || isPoll(element)) return "Refreshing this part of the page";
    const submitter = event.detail.requestConfig && event.detail.requestConfig.triggeringEvent &&
      event.detail.requestConfig.triggeringEvent.submitter;
    const control = submitter ||
      (element.matches("form") ? element.querySelector("button[type=submit], button:not([type])") : element);
    const words = control ? control.textContent.replace(/\s+/g, " ").trim() : "";
    return words && words.length <= 60 ? "“" + words + "”" : "Your request";
  }
  // Where a region's alert goes: before it, or before the table a row or body of it is in (no <div> inside a table);
  // null for the whole page (a boosted link's <body>), whose alert opens <main>.
  function regionBox(region) {
    if (!region || !region.isConnected || region === document.body || region.querySelector("main")) return null;
    const table = region.closest("table");
    return table ? table.closest(".table-responsive") || table : region;
  }
  function pageTop() { return document.querySelector("main") || document.body; }
  function alertFor(region) {
    const box = regionBox(region);
    const said = box ? box.previousElementSibling : pageTop().firstElementChild;
    return said && said.matches("[data-request-failed]") ? said : null;
  }
  function sayRequestFailed(event) {
    const detail = event.detail;
    const status = detail.xhr ? detail.xhr.status : 0;
    const region = detail.target;
    const element = asker(event);
    // A form's answer was to replace the region (the EXPLAIN console's result, a list's results): what it shows now
    // is the answer to an earlier request, and is marked so rather than taken for this one's.
    const stale = Boolean(element && element.matches && element.matches("form") && region && region.isConnected &&
      region !== element && !region.contains(element));
    let said = alertFor(region);
    if (!said) {
      said = document.createElement("div");
      said.className = "alert alert-danger alert-dismissible request-failed";
      said.setAttribute("role", "alert");
      said.dataset.requestFailed = "";
      said.append(document.createElement("p"), document.createElement("button"));
      said.firstChild.className = "mb-0";
      said.lastChild.type = "button";
      said.lastChild.className = "btn-close";
      said.lastChild.setAttribute("aria-label", "Dismiss");
      said.lastChild.dataset.dismissRequestFailed = "";
      const box = regionBox(region);
      if (box) box.before(said); else pageTop().prepend(said);
    }
    said.dataset.poll = isPoll(element) ? "yes" : "no";
    const text = requestName(event) + " did not work. " + failureSentence(status) +
      (status ? " (HTTP " + status + ")." : " (no answer).") +
      (stale ? " What is shown below is from an earlier request, not this one." : "");
    // The same words again are not said again (a poll failing every 2 s): a screen reader reads an alert on change.
    if (said.firstChild.textContent !== text) said.firstChild.textContent = text;
    if (stale) region.dataset.stale = "";
    const box = said.getBoundingClientRect();
    if (box.top < 0 || box.bottom > window.innerHeight) said.scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("htmx:responseError", sayRequestFailed);
  document.addEventListener("htmx:sendError", sayRequestFailed);
  document.addEventListener("htmx:timeout", sayRequestFailed);
  // A region answered again is current: its alert goes, unless it is about something a person asked and this answer
  // is only a poll's (the activity page polls every few seconds; a failed Pause must not vanish with the next poll).
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.isError || !event.detail.target) return;
    const said = alertFor(event.detail.target);
    if (said && (said.dataset.poll === "yes" || !isPoll(asker(event)))) said.remove();
    if (!isPoll(asker(event))) delete event.detail.target.dataset.stale;
  });
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-dismiss-request-failed]");
    if (!button) return;
    const said = button.closest("[data-request-failed]");
    const next = said.nextElementSibling;
    if (next) {
      [next].concat(Array.from(next.querySelectorAll("[data-stale]"))).forEach(function (region) {
        delete region.dataset.stale;
      });
    }
    said.remove();
  });

  // --- A polled region ([data-polled], e.g. /activity/) never takes a poll's answer once a person has asked it
  // for something else (Pause, Resume, Show all): that request replaces the region, and a poll answered while it
  // was on its way would swap the old state back in and leave the person's request nowhere to land.
  // requestConfig.elt is the element that asked (htmx sets detail.elt to whichever element an event fires on).
  function asker(event) {
    return event.detail.requestConfig ? event.detail.requestConfig.elt : null;
  }
  function polledRegion(element) {
    return element && element.closest ? element.closest("[data-polled]") : null;
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    const region = polledRegion(asker(event));
    if (region && region !== asker(event)) region.dataset.asked = "yes";
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    const region = polledRegion(asker(event));
    // A request that failed changed nothing: the region may follow its polls again.
    if (region && region !== asker(event) && !event.detail.successful) delete region.dataset.asked;
  });
  document.addEventListener("htmx:beforeSwap", function (event) {
    const source = asker(event);
    if (source && source.matches && source.matches("[data-polled][data-asked]")) event.detail.shouldSwap = false;
  });
})();
