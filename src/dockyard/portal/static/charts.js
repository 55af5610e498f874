// The service page's charts (templates/_charts.html): the portal's charts route gives one time
// axis and, per chart, a series per instance (portal/charts_panel.py); uPlot draws them. They
// are fetched again every data-refresh-s seconds and on a click of the range picker; when
// Prometheus does not answer, the charts give way to a plain "metrics unavailable" and the
// next refresh tries again.
(function () {
  "use strict";

  var root = document.getElementById("charts");
  if (!root || typeof uPlot === "undefined" || typeof fetch === "undefined") {
    return;
  }
  var grid = document.getElementById("chart-grid");
  var status = document.getElementById("charts-status");
  var refreshMs = 1000 * (parseInt(root.dataset.refreshS, 10) || 10);
  var COLOURS = ["#2563eb", "#d97706", "#059669", "#dc2626", "#7c3aed", "#0891b2", "#be185d"];
  var plots = {}; // chart name -> {plot, names}
  var timer = null;
  var asked = 0; // answers to older requests (a range changed meanwhile) are dropped

  function scaled(value, steps, base) {
    var i = 0;
    while (Math.abs(value) >= base && i < steps.length - 1) {
      value /= base;
      i += 1;
    }
    return (Math.abs(value) >= 100 ? value.toFixed(0) : value.toPrecision(3)) + " " + steps[i];
  }

  function format(unit, value) {
    if (value === null || value === undefined) {
      return "—";
    }
    if (unit === "bytes") {
      return scaled(value, ["B", "KiB", "MiB", "GiB", "TiB"], 1024);
    }
    if (unit === "bytes/s") {
      return scaled(value, ["B/s", "KiB/s", "MiB/s", "GiB/s"], 1024);
    }
    if (unit === "%") {
      return value.toFixed(1) + " %";
    }
    if (unit === "count/s") {
      return String(Math.round(value * 100) / 100) + " /s";
    }
    return String(Math.round(value * 100) / 100);
  }

  function width() {
    // Two charts a row (one on narrow screens, see portal.css); uPlot needs pixels.
    var columns = grid.clientWidth >= 700 ? 2 : 1;
    return Math.max(240, Math.floor((grid.clientWidth - 16 * (columns - 1)) / columns));
  }

  function options(chart) {
    var series = [{}];
    chart.series.forEach(function (one, i) {
      series.push({
        label: one.name,
        stroke: COLOURS[i % COLOURS.length],
        width: 1.5,
        spanGaps: false,
        value: function (u, v) { return format(chart.unit, v); }
      });
    });
    return {
      title: chart.title,
      width: width(),
      height: 180,
      scales: { x: { time: true } },
      series: series,
      axes: [{}, { size: 80, values: function (u, ticks) {
        return ticks.map(function (v) { return format(chart.unit, v); });
      } }]
    };
  }

  function holder(chart) {
    var box = grid.querySelector("[data-chart='" + chart.name + "']");
    if (!box) {
      box = document.createElement("div");
      box.className = "chart";
      box.dataset.chart = chart.name;
      grid.appendChild(box);
    }
    return box;
  }

  function show(chart, timestamps) {
    var names = chart.series.map(function (s) { return s.name; }).join(",");
    var data = [timestamps].concat(chart.series.map(function (s) { return s.values; }));
    var box = holder(chart);
    var drawn = plots[chart.name];
    if (drawn && drawn.names === names) {
      drawn.plot.setData(data);
    } else {
      if (drawn) {
        drawn.plot.destroy();
      }
      plots[chart.name] = { plot: new uPlot(options(chart), data, box), names: names };
    }
    var values = 0;
    chart.series.forEach(function (s) {
      s.values.forEach(function (v) { if (v !== null) { values += 1; } });
    });
    box.dataset.values = String(values);
    box.dataset.series = names;
  }

  function clear() {
    Object.keys(plots).forEach(function (name) { plots[name].plot.destroy(); });
    plots = {};
    grid.textContent = "";
  }

  function drawAll(body) {
    var any = body.charts.some(function (c) { return c.series.length > 0; });
    root.classList.remove("unavailable");
    body.charts.forEach(function (chart) { show(chart, body.timestamps); });
    status.textContent = (any ? "" : "No figures for this environment yet. ") +
      "Last " + body.range + ", updated " + new Date().toLocaleTimeString() +
      ", every " + refreshMs / 1000 + " s.";
  }

  function unavailable(message) {
    clear();
    root.classList.add("unavailable");
    status.textContent = "Metrics unavailable: " + message;
  }

  function load() {
    var mine = ++asked;
    var url = root.dataset.url + "&range=" + encodeURIComponent(root.dataset.range);
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (answer) {
        return answer.json().then(function (body) { return { ok: answer.ok, body: body }; },
          function () { return { ok: false, body: { message: "HTTP " + answer.status } }; });
      })
      .then(function (got) {
        if (mine !== asked) {
          return;
        }
        if (got.ok) {
          drawAll(got.body);
        } else {
          unavailable(got.body.message || "no answer");
        }
      }, function () {
        if (mine === asked) {
          unavailable("the portal does not answer");
        }
      });
  }

  function schedule() {
    clearInterval(timer);
    timer = setInterval(function () {
      if (!document.hidden) {
        load();
      }
    }, refreshMs);
  }

  root.querySelectorAll("button.range").forEach(function (button) {
    button.addEventListener("click", function () {
      root.dataset.range = button.dataset.range;
      root.querySelectorAll("button.range").forEach(function (b) {
        b.setAttribute("aria-pressed", b === button ? "true" : "false");
      });
      load();
      schedule();
    });
  });
  window.addEventListener("resize", function () {
    Object.keys(plots).forEach(function (name) {
      plots[name].plot.setSize({ width: width(), height: 180 });
    });
  });
  load();
  schedule();
})();
