/* Draws the profile and department charts with ECharts from the page's json_script data.
   Every element with data-chart="radar|trend|bars|heatmap" and data-source="<script id>" gets
   one chart; charts follow the size of their box (phone 375 px to desktop). */
(function () {
  "use strict";
  var COLORS = { employee: "#1f5f8b", team: "#e08a00", target: "#1e7a3c", bad: "#b3261e" };

  function narrow(el) { return el.clientWidth < 480; }

  /* Breaks a long axis name ("Medical record quality") into lines of about `width` characters,
     so that radar labels stay inside a phone screen. */
  function wrap(name, width) {
    var lines = [], line = "";
    String(name).split(" ").forEach(function (word) {
      if (line && (line + " " + word).length > width) { lines.push(line); line = word; }
      else { line = line ? line + " " + word : word; }
    });
    lines.push(line);
    return lines.join("\n");
  }

  function radar(el, data) {
    var small = narrow(el);
    return {
      color: [COLORS.employee, COLORS.team, COLORS.target],
      legend: { bottom: 0, itemWidth: 14, textStyle: { fontSize: small ? 11 : 12 } },
      tooltip: { trigger: "item", confine: true },
      radar: {
        indicator: data.radar.indicators,
        radius: small ? "55%" : "68%",
        center: ["50%", "48%"],
        axisName: {
          color: "#1d2733",
          fontSize: small ? 11 : 13,
          formatter: function (name) { return wrap(name, small ? 10 : 18); }
        },
        splitNumber: 3
      },
      series: [{
        type: "radar",
        symbolSize: 5,
        data: [
          { name: data.legend.employee, value: data.radar.employee, areaStyle: { opacity: 0.25 } },
          { name: data.legend.team, value: data.radar.team, lineStyle: { type: "dashed" } },
          { name: data.legend.target, value: data.radar.target, lineStyle: { type: "dotted", width: 2 }, symbol: "none" }
        ]
      }]
    };
  }

  function trend(el, data) {
    var t = data.trends[Number(el.dataset.index)] || data.trends[0];
    var small = narrow(el);
    return {
      color: [COLORS.employee, COLORS.team, COLORS.target],
      title: { text: t.name + (t.unit ? " (" + t.unit + ")" : ""), left: 0, textStyle: { fontSize: 13 } },
      legend: { bottom: 0, itemWidth: 14, textStyle: { fontSize: 11 } },
      tooltip: { trigger: "axis", confine: true },
      grid: { left: 8, right: 12, top: 48, bottom: 34, containLabel: true },
      xAxis: { type: "category", data: t.periods, axisLabel: { fontSize: 10, hideOverlap: true } },
      yAxis: { type: "value", scale: true, inverse: false, axisLabel: { fontSize: 10 } },
      series: [
        { name: data.legend.employee, type: "line", data: t.actual, connectNulls: true, symbolSize: small ? 4 : 6 },
        { name: data.legend.team, type: "line", data: t.team, connectNulls: true, lineStyle: { type: "dashed" }, symbol: "none" },
        { name: data.legend.target, type: "line", data: t.target, step: "middle", lineStyle: { type: "dotted", width: 2 }, symbol: "none" }
      ]
    };
  }

  /* Average completion against the target per KPI: a shortfall is a red bar to the left, a
     surplus a green bar to the right, each in its own series, so a surplus never reads as a
     gap. Empty entries (null) draw nothing. */
  function bars(el, data) {
    function percent(v) { return v == null ? "" : (v > 0 ? "+" : "") + v + " %"; }
    function series(name, values, color, position) {
      return {
        name: name, type: "bar", stack: "gap", barMaxWidth: 28, data: values,
        itemStyle: { color: color },
        label: { show: true, position: position, fontSize: 10, formatter: function (p) { return percent(p.value); } }
      };
    }
    return {
      legend: { bottom: 0, itemWidth: 14, textStyle: { fontSize: 11 } },
      tooltip: {
        trigger: "axis", confine: true, axisPointer: { type: "shadow" },
        valueFormatter: function (v) { return v == null ? "—" : percent(v); }
      },
      grid: { left: 8, right: 40, top: 10, bottom: 34, containLabel: true },
      // Room beyond the longest bars, so their labels stay clear of the KPI names.
      xAxis: {
        type: "value", boundaryGap: ["35%", "35%"], splitNumber: 4,
        axisLabel: { formatter: percent, fontSize: 10, hideOverlap: true }
      },
      yAxis: {
        type: "category", data: data.bars.kpis, inverse: true,
        axisLabel: { fontSize: 11, formatter: function (name) { return wrap(name, narrow(el) ? 12 : 24); } }
      },
      series: [
        series(data.legend.below, data.bars.below, COLORS.bad, "left"),
        series(data.legend.above, data.bars.above, COLORS.target, "right")
      ]
    };
  }

  /* Completion per person and KPI. The colours come from the page's scale; every cell shows
     its number in the text colour the server chose for that cell's colour. */
  function heatmap(el, data) {
    var small = narrow(el);
    var scale = data.heatmap.scale;
    return {
      tooltip: {
        confine: true,
        formatter: function (p) {
          return data.heatmap.people[p.value[1]] + "<br>" + data.heatmap.kpis[p.value[0]] + ": " + p.value[2] + " %";
        }
      },
      grid: { left: 4, right: 8, top: small ? 70 : 50, bottom: 50, containLabel: true },
      xAxis: {
        type: "category", data: data.heatmap.kpis, position: "top",
        axisLabel: { interval: 0, fontSize: 10, formatter: function (name) { return wrap(name, small ? 10 : 24); } }
      },
      yAxis: { type: "category", data: data.heatmap.people, inverse: true, axisLabel: { fontSize: 10, interval: 0 } },
      visualMap: {
        min: scale.min, max: scale.max, calculable: false, orient: "horizontal", left: "center", bottom: 0,
        itemHeight: small ? 120 : 200, text: [scale.max + " %", scale.min + " %"], textStyle: { fontSize: 10 },
        inRange: { color: scale.colors }
      },
      series: [{
        name: data.legend.completion, type: "heatmap", data: data.heatmap.cells, progressive: 0,
        itemStyle: { borderColor: "#ffffff", borderWidth: 1 },
        label: { show: true, fontSize: 10, formatter: function (p) { return p.data.text; } }
      }]
    };
  }

  var BUILDERS = { radar: radar, trend: trend, bars: bars, heatmap: heatmap };

  function draw() {
    if (!window.echarts) { return; }
    var cache = {};
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var source = el.dataset.source;
      if (!(source in cache)) {
        var script = document.getElementById(source);
        cache[source] = script ? JSON.parse(script.textContent) : null;
      }
      var build = BUILDERS[el.dataset.chart];
      if (!cache[source] || !build) { return; }
      var chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(build(el, cache[source]));
      el.dataset.rendered = "true";
      if (window.ResizeObserver) {
        new ResizeObserver(function () {
          chart.resize();
          chart.setOption(build(el, cache[source]));
        }).observe(el);
      } else {
        window.addEventListener("resize", function () { chart.resize(); });
      }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
