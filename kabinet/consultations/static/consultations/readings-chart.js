// The readings chart: one line per measure (e.g. systolic, diastolic, pulse) over time, the clinic's normal range as
// dashed lines, points outside it in red. Data comes from the page (json_script); Chart.js is vendored.
(function () {
  "use strict";
  const canvas = document.getElementById("readings-chart");
  const source = document.getElementById("chart-data");
  if (!canvas || !source || !window.Chart) { return; }
  const data = JSON.parse(source.textContent);
  const colours = ["#0f766e", "#7c3aed", "#ea580c"];
  const red = "#dc2626";
  const datasets = [];
  let first = Infinity;
  let last = -Infinity;
  data.series.forEach((series, index) => {
    const colour = colours[index % colours.length];
    const points = series.points.map((p) => ({ x: Date.parse(p.t), y: p.v, out: p.out }));
    points.forEach((p) => { first = Math.min(first, p.x); last = Math.max(last, p.x); });
    datasets.push({
      label: series.label,
      data: points,
      borderColor: colour,
      backgroundColor: colour,
      pointBackgroundColor: points.map((p) => (p.out ? red : colour)),
      pointBorderColor: points.map((p) => (p.out ? red : colour)),
      pointRadius: points.map((p) => (p.out ? 6 : 3)),
      tension: 0.2,
    });
    [series.low, series.high].forEach((limit) => {
      if (limit === null || limit === undefined) { return; }
      datasets.push({
        label: `${series.label}: ${canvas.dataset.normalLabel} (${limit})`,
        data: [], limit: limit, borderColor: colour, borderDash: [6, 4], borderWidth: 1, pointRadius: 0,
      });
    });
  });
  if (first === last) { first -= 3600000; last += 3600000; }
  datasets.forEach((set) => {
    if (set.limit !== undefined) { set.data = [{ x: first, y: set.limit }, { x: last, y: set.limit }]; }
  });
  const when = (value) => new Date(value).toLocaleString(document.documentElement.lang || undefined,
    { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  canvas.chart = new window.Chart(canvas, {
    type: "line",
    data: { datasets: datasets },
    options: {
      animation: false,
      parsing: false,
      scales: { x: { type: "linear", ticks: { callback: when, maxTicksLimit: 6 } } },
      plugins: { tooltip: { callbacks: { title: (items) => (items.length ? when(items[0].parsed.x) : "") } } },
    },
  });
  canvas.dataset.state = "drawn";
})();
