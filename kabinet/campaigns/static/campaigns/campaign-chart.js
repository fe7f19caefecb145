// The campaign page's bar chart (Chart.js, vendored): drawn from the JSON in the statistics partial, and redrawn
// whenever htmx swaps in a fresh partial, so the bars move with the table while the campaign runs.
(function () {
  "use strict";
  let chart = null;

  function draw() {
    const source = document.getElementById("campaign-chart-data");
    const canvas = document.getElementById("campaign-chart");
    if (!source || !canvas || !window.Chart) return;
    const data = JSON.parse(source.textContent);
    if (chart) {
      chart.data.labels = data.labels;
      chart.data.datasets[0].data = data.values;
      chart.update();
      return;
    }
    chart = new window.Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: [{ data: data.values, backgroundColor: "#0f766e" }] },
      options: {
        indexAxis: "y",
        animation: false,
        maintainAspectRatio: false,
        plugins: { legend: { display: false } },
        scales: { x: { beginAtZero: true, ticks: { precision: 0 } } },
      },
    });
  }

  document.addEventListener("DOMContentLoaded", draw);
  document.addEventListener("htmx:afterSwap", draw);
})();
