// The overview's bar chart of index size by table, drawn with Chart.js from the page's json_script data, in the
// page's colour scheme (chart-theme.js).
(() => {
  "use strict";
  // Every table gets its row and its label. Where a label is too long for the axis (45 % of a narrow chart, 40 % of
  // a wide one), "public." goes from all of them and what is still too long is cut in the middle with "…",
  // never off the canvas's edge; the tooltip names the table in full.
  const ROW_PX = 26;
  function labeller(labels, room) {
    const ctx = document.createElement("canvas").getContext("2d");
    const font = window.Chart.defaults.font;
    ctx.font = `${font.size}px ${font.family}`;
    const fits = (text) => ctx.measureText(text).width <= room;
    const tight = !labels.every(fits);
    return (label) => {
      let name = tight ? label.replace(/^public\./, "") : label;
      while (name.length > 4 && !fits(name)) {
        const middle = Math.floor(name.length / 2);
        name = name.slice(0, middle - 1).replace(/…$/, "") + "…" + name.slice(middle + 1).replace(/^…/, "");
      }
      return name;
    };
  }
  document.addEventListener("DOMContentLoaded", () => {
    const canvas = document.getElementById("index-size-chart");
    const source = document.getElementById("index-size-data");
    if (!canvas || !source || typeof window.Chart !== "function") return;
    const data = JSON.parse(source.textContent);
    canvas.parentElement.style.height = `${data.labels.length * ROW_PX + 48}px`;
    const room = () => Math.max(80, canvas.parentElement.clientWidth * (canvas.parentElement.clientWidth < 500 ? 0.45 : 0.4));
    const chart = new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{ label: "Index size (MB)", data: data.megabytes }],
      },
      options: {
        indexAxis: "y",
        maintainAspectRatio: false,
        animation: false,
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { title: (items) => data.labels[items[0].dataIndex] } },
        },
        scales: {
          x: { title: { display: true, text: "MB" }, beginAtZero: true },
          y: { ticks: { autoSkip: false, callback: (value, index) => labeller(data.labels, room())(data.labels[index]) } },
        },
      },
    });
    window.schemaadminChartTheme(chart, (drawn, colours) => { drawn.data.datasets[0].backgroundColor = colours.primary; });
  });
})();
