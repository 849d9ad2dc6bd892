// The page's colour scheme on a Chart.js chart: axis ticks and titles, grid lines and the legend in the theme's
// text and border colours, painted again whenever theme.js announces a change ("schemaadmin:theme"). Chart.js's
// own grey (#666) read at 2.7:1 on the dark background. Used by index-chart.js and query-chart.js:
// window.schemaadminChartTheme(chart, paintMore), paintMore(chart, colours) for what a chart colours itself.
(() => {
  "use strict";
  function colours() {
    const style = getComputedStyle(document.documentElement);
    return {
      text: style.getPropertyValue("--bs-body-color").trim() || "#212529",
      grid: style.getPropertyValue("--bs-border-color").trim() || "#dee2e6",
      primary: style.getPropertyValue("--bs-primary").trim() || "#0d6efd",
    };
  }
  function paint(chart, paintMore) {
    const c = colours();
    Object.values(chart.options.scales || {}).forEach((scale) => {
      scale.ticks = { ...(scale.ticks || {}), color: c.text };
      scale.grid = { ...(scale.grid || {}), color: c.grid };
      if (scale.title) scale.title.color = c.text;
    });
    const legend = chart.options.plugins && chart.options.plugins.legend;
    if (legend) legend.labels = { ...(legend.labels || {}), color: c.text };
    if (paintMore) paintMore(chart, c);
    chart.update();
  }
  window.schemaadminChartTheme = (chart, paintMore) => {
    paint(chart, paintMore);
    document.addEventListener("schemaadmin:theme", () => paint(chart, paintMore));
  };
})();
