// One statement's time (bars) and calls (line) per snapshot, hour or day, drawn with Chart.js from json_script data.
(() => {
  "use strict";
  document.addEventListener("DOMContentLoaded", () => {
    const canvas = document.getElementById("query-chart");
    const source = document.getElementById("query-chart-data");
    if (!canvas || !source || typeof window.Chart !== "function") return;
    const data = JSON.parse(source.textContent);
    const labels = data.labels.map((iso) => iso.slice(5, 16).replace("T", " "));
    new window.Chart(canvas, {
      data: {
        labels,
        datasets: [
          { type: "bar", label: "Time (ms)", data: data.total_ms, yAxisID: "time", backgroundColor: "rgba(13, 110, 253, 0.6)" },
          { type: "line", label: "Calls", data: data.calls, yAxisID: "calls", borderColor: "rgba(25, 135, 84, 0.9)", pointRadius: 0 },
        ],
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: {
          time: { position: "left", beginAtZero: true, title: { display: true, text: "ms" } },
          calls: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "calls" } },
        },
      },
    });
  });
})();
