// The overview's bar chart of index size by table, drawn with Chart.js from the page's json_script data, in the
// page's colour scheme (theme.js announces changes with a "schemaadmin:theme" event).
(() => {
  "use strict";
  function colours() {
    const style = getComputedStyle(document.documentElement);
    return {
      text: style.getPropertyValue("--bs-body-color").trim() || "#212529",
      grid: style.getPropertyValue("--bs-border-color").trim() || "#dee2e6",
      bar: style.getPropertyValue("--bs-primary").trim() || "#0d6efd",
    };
  }
  function paint(chart) {
    const c = colours();
    chart.data.datasets[0].backgroundColor = c.bar;
    Object.values(chart.options.scales).forEach((scale) => {
      scale.ticks = { ...(scale.ticks || {}), color: c.text };
      scale.grid = { ...(scale.grid || {}), color: c.grid };
      if (scale.title) scale.title.color = c.text;
    });
  }
  document.addEventListener("DOMContentLoaded", () => {
    const canvas = document.getElementById("index-size-chart");
    const source = document.getElementById("index-size-data");
    if (!canvas || !source || typeof window.Chart !== "function") return;
    const data = JSON.parse(source.textContent);
    const chart = new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{ label: "Index size (MB)", data: data.megabytes }],
      },
      options: {
        indexAxis: "y",
        aspectRatio: 1.8,
        animation: false,
        plugins: { legend: { display: false } },
        scales: { x: { title: { display: true, text: "MB" }, beginAtZero: true }, y: {} },
      },
    });
    paint(chart);
    chart.update();
    document.addEventListener("schemaadmin:theme", () => { paint(chart); chart.update(); });
  });
})();
