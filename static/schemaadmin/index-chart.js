// The overview's bar chart of index size by table, drawn with Chart.js from the page's json_script data.
(() => {
  "use strict";
  document.addEventListener("DOMContentLoaded", () => {
    const canvas = document.getElementById("index-size-chart");
    const source = document.getElementById("index-size-data");
    if (!canvas || !source || typeof window.Chart !== "function") return;
    const data = JSON.parse(source.textContent);
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: data.labels,
        datasets: [{ label: "Index size (MB)", data: data.megabytes, backgroundColor: "rgba(13, 110, 253, 0.7)" }],
      },
      options: {
        indexAxis: "y",
        aspectRatio: 1.8,
        animation: false,
        plugins: { legend: { display: false } },
        scales: { x: { title: { display: true, text: "MB" }, beginAtZero: true } },
      },
    });
  });
})();
