// Runs in <head> before the page paints: the colour scheme (a stored choice, else the system's
// prefers-color-scheme, followed live) as Bootstrap's data-bs-theme, and a mark that scripts run.
(function () {
  "use strict";
  const root = document.documentElement;
  const media = window.matchMedia("(prefers-color-scheme: dark)");
  const KEY = "schemaadmin-theme";
  root.dataset.js = "on";

  // The viewer's time zone, for the dates and times typed into forms (schemaadmin.middleware.ViewerTimeZone reads
  // them in it, as every page shows times in it).
  try {
    const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const cookie = "schemaadmin_tz=" + zone;  // IANA names hold letters, digits and _ + - / only
    if (/^[A-Za-z0-9_+\-\/]+$/.test(zone) && document.cookie.split("; ").indexOf(cookie) < 0) {
      document.cookie = cookie + "; path=/; max-age=31536000; SameSite=Lax";
    }
  } catch (error) { /* no Intl zone: forms read UTC, as their labels say */ }

  function stored() {
    try { return window.localStorage.getItem(KEY); } catch (error) { return null; }
  }

  function apply() {
    const choice = stored() === "light" || stored() === "dark" ? stored() : "auto";
    const theme = choice === "auto" ? (media.matches ? "dark" : "light") : choice;
    const changed = root.getAttribute("data-bs-theme") !== theme;
    root.setAttribute("data-bs-theme", theme);
    root.dataset.themeChoice = choice;
    if (changed) document.dispatchEvent(new CustomEvent("schemaadmin:theme", { detail: { theme: theme } }));
  }

  window.schemaadminTheme = {
    // "auto" follows the system; "light" and "dark" are remembered in this browser.
    choose: function (choice) {
      try {
        if (choice === "auto") window.localStorage.removeItem(KEY); else window.localStorage.setItem(KEY, choice);
      } catch (error) { /* private mode: the choice lasts for this page */ }
      apply();
    },
    current: function () { return root.getAttribute("data-bs-theme"); },
  };
  apply();
  media.addEventListener("change", apply);
  // A choice made in another document of this site: another tab, or the page that frames this one (the live schema
  // frames its diagram, which stayed light when the page turned dark). The browser tells every other document.
  window.addEventListener("storage", function (event) {
    if (event.key === KEY || event.key === null) apply();
  });
})();
