// Live throughput chart: polls the console's JSON endpoint, turns two
// successive record counts into a rate and draws the last 60 rates as an
// SVG polyline. No library, no build step.
(function () {
  "use strict";
  var fig = document.querySelector("figure.chart");
  if (!fig) { return; }
  var line = fig.querySelector("polyline");
  var label = fig.querySelector(".rate");
  var rates = [];
  var last = null;
  function draw() {
    var top = Math.max.apply(null, rates.concat([1]));
    var pts = rates.map(function (r, i) {
      var x = (600 * i) / 59;
      var y = 118 - (116 * r) / top;
      return x.toFixed(1) + "," + y.toFixed(1);
    });
    line.setAttribute("points", pts.join(" "));
    label.textContent = rates.length ? rates[rates.length - 1].toFixed(1) + " (max " + top.toFixed(1) + ")" : "–";
  }
  function poll() {
    fetch(fig.dataset.source, { cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s) { return; }
        if (last && s.time_ms > last.time_ms) {
          rates.push(Math.max(0, (s.records - last.records) * 1000 / (s.time_ms - last.time_ms)));
          if (rates.length > 60) { rates.shift(); }
          fig.dataset.samples = String(rates.length);
          fig.dataset.last = String(rates[rates.length - 1]);
          draw();
        }
        last = s;
      })
      .catch(function () {});
  }
  poll();
  setInterval(poll, 2000);
})();
