// One statement's time (bars) and calls (line) per snapshot, hour or day, drawn with Chart.js from json_script data.
// The x axis is time itself (milliseconds, labelled in the viewer's zone, named under it, as the page's times are)
// over the whole window, not one slot per point: when snapshots were irregular (the worker stopped for an hour), the
// gap shows as a gap.
(() => {
  "use strict";
  const MINUTE = 60 * 1000;
  const HOUR = 60 * MINUTE;
  const DAY = 1440 * MINUTE;
  // A time axis tick: milliseconds as a duration, three significant digits.
  const duration = (ms) => {
    if (ms === 0) return "0";
    if (ms < 1000) return `${+ms.toPrecision(3)} ms`;
    if (ms < MINUTE) return `${+(ms / 1000).toPrecision(3)} s`;
    if (ms < HOUR) return `${+(ms / MINUTE).toPrecision(3)} min`;
    return `${+(ms / HOUR).toPrecision(3)} h`;
  };
  // A step for the time axis that reads as a round duration (1 s, 30 s, 2 min, 1 h, ...), about five to the top:
  // Chart.js's own steps were round in milliseconds, "1.33 min" and "1.17 min".
  const ROUND_DURATIONS = [
    0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500,
    1000, 2000, 5000, 10000, 15000, 30000,
    MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
    HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY,
  ];
  const durationStep = (top) => ROUND_DURATIONS.find((step) => top / step <= 6) || Math.ceil(top / 6 / DAY) * DAY;
  // Ticks on whole local minutes (multiples of the step since the epoch, shifted by the zone's offset at the window's
  // start), hours or days (read off the local clock, so a daylight-saving change moves none).
  const STEPS = [5, 10, 15, 30, 60, 120, 180, 360, 720, 1440, 2880, 10080, 43200, 129600, 525600].map((m) => m * MINUTE);
  const TICK_WIDTH = 95; // px a "MM-DD HH:MM" label needs with room around it

  const pad = (n) => String(n).padStart(2, "0");
  // "YYYY-MM-DDTHH:MM" in the viewer's zone: sliced as an ISO string would be.
  const iso = (ms) => {
    const d = new Date(ms);
    return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
  };
  const zoneName = () => {
    const part = new Intl.DateTimeFormat(undefined, { timeZoneName: "short" }).formatToParts(new Date())
      .find((p) => p.type === "timeZoneName");
    return part ? part.value : "";
  };
  // The shortest label that names the moment within the window: the day alone for day steps, the time alone when
  // the window is within one local day (the heading names it), else both.
  const labeller = (start, end, spacing) => {
    if (spacing >= DAY) return (ms) => iso(ms).slice(5, 10);
    if (iso(start).slice(0, 10) === iso(end - 1).slice(0, 10)) return (ms) => iso(ms).slice(11, 16);
    return (ms) => iso(ms).slice(5, 16).replace("T", " ");
  };

  document.addEventListener("DOMContentLoaded", () => {
    const canvas = document.getElementById("query-chart");
    const source = document.getElementById("query-chart-data");
    if (!canvas || !source || typeof window.Chart !== "function") return;
    const data = JSON.parse(source.textContent);
    const times = data.labels.map((moment) => Date.parse(moment));
    const [start, end] = [Date.parse(data.start), Date.parse(data.end)];
    const points = (values) => values.map((y, i) => ({ x: times[i], y }));
    // Each bar as wide as 80% of the usual step between snapshots (the median gap), 2 px at least: Chart.js sizes
    // bars by the closest two points, so one snapshot taken seconds after another made every bar a hairline.
    const gaps = times.slice(1).map((t, i) => t - times[i]).filter((gap) => gap > 0).sort((a, b) => a - b);
    const usualGap = gaps.length ? gaps[Math.floor(gaps.length / 2)] : end - start;
    const barThickness = (context) => {
      const area = context.chart.chartArea;
      const width = area ? area.right - area.left : context.chart.width;
      return Math.max(2, Math.min(48, (usualGap * width) / Math.max(1, end - start) * 0.8));
    };
    let label = labeller(start, end, STEPS[0]);
    const shift = -new Date(start).getTimezoneOffset() * MINUTE; // local time minus UTC, in ms
    const zone = zoneName();
    const chart = new window.Chart(canvas, {
      data: {
        datasets: [
          { type: "bar", label: "Time", data: points(data.total_ms), yAxisID: "time", backgroundColor: "rgba(13, 110, 253, 0.6)", barThickness },
          { type: "line", label: "Calls", data: points(data.calls), yAxisID: "calls", borderColor: "rgba(25, 135, 84, 0.9)", pointRadius: 0 },
        ],
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        parsing: false,
        plugins: {
          tooltip: { callbacks: { title: (items) => (items.length ? `${iso(items[0].parsed.x).replace("T", " ")} ${zone}` : "") } },
        },
        scales: {
          x: {
            type: "linear",
            min: start,
            max: end,
            offset: false, // a bar chart's default: it would shift the grid half a slot from the ticks
            grid: { offset: false },
            title: { display: Boolean(zone), text: zone },
            ticks: { callback: (value) => label(value), maxRotation: 0, autoSkip: false },
            // As many ticks as the width holds (redrawn when it changes), each on a whole step.
            afterBuildTicks: (scale) => {
              const most = Math.max(2, Math.floor((scale.maxWidth || scale.chart.width) / TICK_WIDTH));
              const spacing = STEPS.find((candidate) => (end - start) / candidate <= most) || STEPS[STEPS.length - 1];
              label = labeller(start, end, spacing);
              scale.ticks = [];
              if (spacing >= DAY) {
                // Local midnights, stepped by the calendar: a daylight-saving change in the window moves none.
                const days = Math.round(spacing / DAY);
                const tick = new Date(start);
                tick.setHours(0, 0, 0, 0);
                if (tick.getTime() < start) tick.setDate(tick.getDate() + 1);
                for (; tick.getTime() <= end; tick.setDate(tick.getDate() + days)) scale.ticks.push({ value: tick.getTime() });
              } else if (spacing >= HOUR) {
                // Whole local hours, read off each hour's own clock: a daylight-saving change in the window moves
                // the offset, and a step counted from the start's offset would land an hour off after it.
                const hours = spacing / HOUR;
                const tick = new Date(start);
                tick.setMinutes(0, 0, 0);
                if (tick.getTime() < start) tick.setTime(tick.getTime() + HOUR);
                for (; tick.getTime() <= end; tick.setTime(tick.getTime() + HOUR)) {
                  if (tick.getMinutes() === 0 && tick.getHours() % hours === 0) scale.ticks.push({ value: tick.getTime() });
                }
              } else {
                const first = Math.ceil((start + shift) / spacing) * spacing - shift;
                for (let value = first; value <= end; value += spacing) scale.ticks.push({ value });
              }
            },
          },
          // Milliseconds read as people read a duration: 350,000 ms is about 6 min.
          time: { position: "left", beginAtZero: true, title: { display: true, text: "time" }, ticks: { callback: duration, stepSize: durationStep(Math.max(0, ...data.total_ms)) } },
          // Calls are whole numbers: no tick at 0.5 calls.
          calls: { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: "calls" }, ticks: { precision: 0 } },
        },
      },
    });
    window.schemaadminChartTheme(chart);
  });
})();
