// Sweep page charts (templates/sweeps/sweep_detail.html): a parallel-coordinates plot of
// each finished trial's parameters and metric, and the metric by trial with the best so
// far. The data is embedded in the page (json_script "sweep-chart-data", built by
// apps/sweeps/web_selectors.py); Vega-Lite draws it through vega-embed (npm, served from
// /static/vendor/). Colours come from app.css's variables, so the charts follow light
// and dark like the rest of the page and are drawn again when the scheme changes.
// An ES module: vega-options.js holds the embed options that keep Vega within the
// Content-Security-Policy.
import { vegaEmbedOptions } from "./vega-options.js";

(function () {
  "use strict";

  var source = document.getElementById("sweep-chart-data");
  // No data yet (no finished trial): nothing to draw until sweep-live.js brings some.
  var data = source ? JSON.parse(source.textContent) : null;
  var charts = document.querySelectorAll(".sweep-chart[data-chart]");
  // Brushed ranges of the parallel-coordinates chart: axis name -> [lo, hi] in the
  // chart's 0..1 axis positions. A trial is kept when it lies inside every range.
  var brushes = {};
  var positions = {}; // run -> {axis name: position}, from the last parallel draw

  function fail(message) {
    charts.forEach(function (chart) {
      chart.setAttribute("aria-busy", "false");
      chart.innerHTML = "";
      var box = document.createElement("div");
      box.className = "chart-error";
      box.setAttribute("role", "alert");
      box.textContent = message;
      chart.appendChild(box);
    });
  }

  if (typeof window.vegaEmbed !== "function") {
    fail("The chart library could not be loaded; the trials table below has the same numbers.");
    return;
  }

  function cssVar(name) {
    return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
  }

  function theme() {
    var fg = cssVar("--fg"), muted = cssVar("--muted"), border = cssVar("--border");
    return {
      background: "transparent",
      font: getComputedStyle(document.body).fontFamily,
      view: { stroke: null },
      axis: {
        labelColor: muted, titleColor: muted, domainColor: border, tickColor: border,
        gridColor: border, gridOpacity: 0.6, labelFontSize: 11, titleFontSize: 12,
        titleFontWeight: 600,
      },
      legend: { labelColor: muted, titleColor: muted, labelFontSize: 11, titleFontSize: 11 },
      text: { color: fg },
    };
  }

  // Numbers as short labels: 0.00123 -> "1.23e-3", 12345.6 -> "1.23e+4", 0.5 -> "0.5".
  function short(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value !== "number") return String(value);
    var size = Math.abs(value);
    if (size !== 0 && (size < 1e-3 || size >= 1e5)) return value.toExponential(2).replace(/\.?0+e/, "e");
    return String(parseFloat(value.toPrecision(4)));
  }

  // Round numbers between lo and hi, about four of them (1, 2 or 5 times a power of 10).
  function niceTicks(lo, hi) {
    var raw = (hi - lo) / 4;
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var m = raw / power;
    var step = (m < 1.5 ? 1 : m < 3 ? 2 : m < 7 ? 5 : 10) * power;
    var ticks = [];
    for (var t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) {
      ticks.push(parseFloat(t.toPrecision(12)));
    }
    return ticks;
  }

  // One axis of the parallel-coordinates plot: where a value sits (0 = bottom, 1 = top)
  // and the labelled ticks. Numeric axes span the values seen (log axes in decades).
  function scaleFor(axis, values) {
    if (axis.kind === "ordinal") {
      var labels = axis.values;
      var last = Math.max(labels.length - 1, 1);
      var every = Math.ceil(labels.length / 12); // at most ~12 labels on one axis
      var at = function (v) {
        var i = labels.indexOf(v);
        return i < 0 ? null : labels.length === 1 ? 0.5 : i / last;
      };
      return {
        at: at,
        ticks: labels
          .filter(function (_, i) { return i % every === 0; })
          .map(function (label) { return { pos: at(label), label: label }; }),
      };
    }
    var log = axis.kind === "log";
    var seen = values.filter(function (v) {
      return typeof v === "number" && isFinite(v) && (!log || v > 0);
    });
    var tx = log ? Math.log10 : function (v) { return v; };
    var lo = Math.min.apply(null, seen.map(tx));
    var hi = Math.max.apply(null, seen.map(tx));
    if (!seen.length) { lo = 0; hi = 1; }
    if (lo === hi) { var pad = Math.abs(lo) * 0.1 || 0.5; lo -= pad; hi += pad; }
    var atNumber = function (v) {
      if (typeof v !== "number" || !isFinite(v) || (log && v <= 0)) return null;
      return (tx(v) - lo) / (hi - lo);
    };
    var ticks;
    if (log && Math.floor(hi) - Math.ceil(lo) >= 1) {
      ticks = [];
      for (var d = Math.ceil(lo); d <= Math.floor(hi); d++) ticks.push(Math.pow(10, d));
    } else {
      ticks = log ? niceTicks(Math.pow(10, lo), Math.pow(10, hi)) : niceTicks(lo, hi);
    }
    return {
      at: atNumber,
      ticks: ticks.map(function (t) { return { pos: atNumber(t), label: short(t) }; }),
    };
  }

  function parallelSpec(colors, width) {
    var metric = data.metric.name;
    var axes = data.axes.concat([{ name: metric, kind: "linear", metric: true }]);
    var names = axes.map(function (a) { return a.name; });
    var lines = [], ticks = [], rules = [];
    axes.forEach(function (axis, i) {
      var valueOf = function (trial) { return axis.metric ? trial.metric : trial.params[axis.name]; };
      var scale = scaleFor(axis, data.trials.map(valueOf));
      rules.push({ axis: axis.name, y0: 0, y1: 1 });
      scale.ticks.forEach(function (tick) {
        if (tick.pos !== null) ticks.push({ axis: axis.name, pos: tick.pos, label: tick.label });
      });
      data.trials.forEach(function (trial) {
        var value = valueOf(trial);
        (positions[trial.run] = positions[trial.run] || {})[axis.name] = scale.at(value);
        lines.push({
          run: trial.run, trial: trial.trial, metric: trial.metric, axis: axis.name, i: i,
          pos: scale.at(value), value: typeof value === "number" ? short(value) : String(value),
        });
      });
    });
    var x = {
      field: "axis", type: "nominal", sort: names, title: null,
      scale: { type: "point", padding: 0.25 },
      // Names are cut short (with an ellipsis) where the axes stand close, on a phone.
      axis: { orient: "top", labelAngle: 0, labelLimit: Math.max(36, Math.min(130, width / axes.length - 8)),
              labelPadding: 12, domain: false, ticks: false,
              labelColor: colors.fg, labelFontWeight: 600, labelFontSize: 12 },
    };
    var y = { type: "quantitative", scale: { domain: [0, 1], nice: false, zero: false }, axis: null };
    return {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      width: "container", height: "container",
      autosize: { type: "fit", contains: "padding" },
      layer: [
        {
          data: { values: rules },
          mark: { type: "rule", color: colors.border, strokeWidth: 1.5 },
          encoding: { x: x, y: Object.assign({ field: "y0" }, y), y2: { field: "y1" } },
        },
        {
          name: "trial_lines",
          data: { values: lines },
          params: [{ name: "hover", select: { type: "point", fields: ["run"], on: "pointerover", clear: "pointerout" } }],
          mark: { type: "line", strokeWidth: 1.6, strokeCap: "round" },
          encoding: {
            x: x,
            y: Object.assign({ field: "pos" }, y),
            detail: { field: "run" },
            order: { field: "i", type: "quantitative" },
            color: {
              field: "metric", type: "quantitative", title: metric,
              scale: { scheme: "viridis", reverse: data.metric.goal !== "maximize" },
              legend: { orient: "bottom", direction: "horizontal", gradientLength: 160 },
            },
            opacity: { condition: { param: "hover", empty: true, value: 0.9 }, value: 0.15 },
            strokeWidth: { condition: { param: "hover", empty: false, value: 3 }, value: 1.6 },
            tooltip: [
              { field: "run", title: "run" },
              { field: "trial", title: "trial" },
              { field: "metric", title: metric, format: ".4~g" },
              { field: "axis", title: "axis" },
              { field: "value", title: "value" },
            ],
          },
        },
        {
          data: { values: ticks },
          mark: { type: "text", align: "right", dx: -5, fontSize: 10, color: colors.muted, limit: 90 },
          encoding: { x: x, y: Object.assign({ field: "pos" }, y), text: { field: "label" } },
        },
      ],
    };
  }

  function progressSpec(colors) {
    var metric = data.metric.name;
    var x = {
      field: "trial", type: "quantitative", title: "trial",
      scale: { padding: 12, nice: false }, axis: { tickMinStep: 1, format: "d" },
    };
    return {
      $schema: "https://vega.github.io/schema/vega-lite/v6.json",
      width: "container", height: "container",
      autosize: { type: "fit", contains: "padding" },
      data: { values: data.trials },
      encoding: { x: x },
      layer: [
        {
          mark: { type: "line", interpolate: "step-after", color: colors.accent, strokeWidth: 2 },
          encoding: { y: { field: "best", type: "quantitative", title: metric, scale: { zero: false, padding: 10 } } },
        },
        {
          name: "trial_points",
          mark: { type: "point", filled: true, size: 45, color: colors.fg, opacity: 0.55 },
          encoding: {
            y: { field: "metric", type: "quantitative", title: metric, scale: { zero: false, padding: 10 } },
            tooltip: [
              { field: "run", title: "run" },
              { field: "trial", title: "trial" },
              { field: "metric", title: metric, format: ".4~g" },
              { field: "best", title: "best so far", format: ".4~g" },
            ],
          },
        },
      ],
    };
  }

  var SPECS = { parallel: parallelSpec, progress: progressSpec };

  function draw(chart) {
    var colors = {
      fg: cssVar("--fg"), muted: cssVar("--muted"), border: cssVar("--border"),
      accent: cssVar("--accent"),
    };
    var spec = SPECS[chart.getAttribute("data-chart")](colors, chart.clientWidth);
    spec.config = theme();
    chart.setAttribute("aria-busy", "true");
    var canvas = chart.querySelector(".chart-canvas");
    if (!canvas) {
      canvas = document.createElement("div");
      canvas.className = "chart-canvas";
      chart.appendChild(canvas);
    }
    if (chart._view) chart._view.finalize();
    return window
      .vegaEmbed(canvas, spec, vegaEmbedOptions())
      .then(function (result) {
        chart._view = result.view;
        if (chart.id === "sweep-parallel") paintBrushes();
        var loading = chart.querySelector(".chart-loading");
        if (loading) loading.remove();
        chart.setAttribute("aria-busy", "false");
        chart.setAttribute("data-rendered", "true");
      })
      .catch(function (error) {
        fail("The chart could not be drawn: " + error.message);
      });
  }

  function drawAll() {
    charts.forEach(draw);
  }

  // -- the brush: drag along an axis of the parallel chart to keep the trials that pass
  // through that range (several axes: all of them); double-click an axis to clear it.
  function brushedRuns() {
    var axes = Object.keys(brushes);
    if (!axes.length) return null;
    return Object.keys(positions).filter(function (run) {
      return axes.every(function (axis) {
        var pos = positions[run][axis];
        return typeof pos === "number" && pos >= brushes[axis][0] && pos <= brushes[axis][1];
      });
    });
  }

  function announce() {
    document.dispatchEvent(new CustomEvent("sweep:filter", { detail: brushedRuns() }));
    var chart = document.getElementById("sweep-parallel");
    if (chart) chart.dataset.brushed = Object.keys(brushes).join(",");
    paintBrushes();
  }

  function plotGeometry(chart) {
    var view = chart._view;
    var canvas = chart.querySelector(".chart-canvas canvas, .chart-canvas svg");
    if (!view || !canvas) return null;
    var rect = canvas.getBoundingClientRect();
    var origin = view.origin();
    return { view: view, left: rect.left + origin[0], top: rect.top + origin[1], rect: rect };
  }

  function axisAt(geometry, clientX) {
    var x = geometry.view.scale("x");
    var best = null, bestDistance = 24; // px: a drag must start near an axis
    x.domain().forEach(function (name) {
      var distance = Math.abs(geometry.left + x(name) - clientX);
      if (distance < bestDistance) { best = name; bestDistance = distance; }
    });
    return best;
  }

  function positionAt(geometry, clientY) {
    var value = geometry.view.scale("y").invert(clientY - geometry.top);
    return Math.min(1, Math.max(0, value));
  }

  function paintBrushes() {
    var chart = document.getElementById("sweep-parallel");
    if (!chart) return;
    chart.querySelectorAll(".brush").forEach(function (box) { box.remove(); });
    var geometry = plotGeometry(chart);
    if (!geometry) return;
    var x = geometry.view.scale("x"), y = geometry.view.scale("y");
    var base = chart.getBoundingClientRect();
    Object.keys(brushes).forEach(function (axis) {
      if (x(axis) === undefined) return;
      var box = document.createElement("div");
      box.className = "brush";
      box.dataset.axis = axis;
      var top = geometry.top + y(brushes[axis][1]) - base.top;
      var bottom = geometry.top + y(brushes[axis][0]) - base.top;
      box.style.left = geometry.left + x(axis) - base.left - 9 + "px";
      box.style.top = top + "px";
      box.style.height = Math.max(2, bottom - top) + "px";
      chart.appendChild(box);
    });
  }

  function enableBrush(chart) {
    var dragging = null;
    chart.addEventListener("pointerdown", function (event) {
      var geometry = plotGeometry(chart);
      if (!geometry) return;
      var axis = axisAt(geometry, event.clientX);
      if (!axis) return;
      dragging = { axis: axis, from: positionAt(geometry, event.clientY), geometry: geometry };
      chart.setPointerCapture(event.pointerId);
      event.preventDefault();
    });
    chart.addEventListener("pointermove", function (event) {
      if (!dragging) return;
      var to = positionAt(dragging.geometry, event.clientY);
      brushes[dragging.axis] = [Math.min(dragging.from, to), Math.max(dragging.from, to)];
      paintBrushes();
    });
    chart.addEventListener("pointerup", function () {
      if (!dragging) return;
      var range = brushes[dragging.axis];
      if (range && range[1] - range[0] < 0.01) delete brushes[dragging.axis]; // a click
      dragging = null;
      announce();
    });
    chart.addEventListener("dblclick", function (event) {
      var geometry = plotGeometry(chart);
      var axis = geometry && axisAt(geometry, event.clientX);
      if (axis && brushes[axis]) {
        delete brushes[axis];
        announce();
      }
    });
  }

  function brushable() {
    var parallel = document.getElementById("sweep-parallel");
    if (parallel && !parallel.dataset.brush) {
      parallel.dataset.brush = "on";
      enableBrush(parallel);
    }
  }

  // sweep-live.js swapped in new chart data (or the charts, for the first finished
  // trial): draw it, keep the brushes.
  document.addEventListener("sweep:data", function () {
    var fresh = document.getElementById("sweep-chart-data");
    if (!fresh) return;
    data = JSON.parse(fresh.textContent);
    positions = {};
    charts = document.querySelectorAll(".sweep-chart[data-chart]");
    brushable();
    Promise.all(Array.prototype.map.call(charts, draw)).then(announce);
  });
  if (!data) return;
  brushable();

  drawAll();
  var scheme = window.matchMedia("(prefers-color-scheme: dark)");
  if (scheme.addEventListener) scheme.addEventListener("change", drawAll);
})();
