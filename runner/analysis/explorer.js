/* The report's interactive views, drawn with Apache ECharts (inlined in the page; canvas, so
 * 1000 runs draw and brush in a few tens of milliseconds without a GPU) from the JSON in
 * <script id="explorer-data">: parallel coordinates with brushing, slices, curves on demand, a
 * sortable table that follows the brush, and a search's history and importances.
 *
 * Every string from a run (config values, overrides, class names, folders) reaches the page as
 * a text node (textContent) or as canvas text, never as markup; tooltips use ECharts' rich-text
 * mode, which draws on the canvas too. */
(function () {
  "use strict";

  var DATA = JSON.parse(document.getElementById("explorer-data").textContent);
  var VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779",
    "#6ece58", "#b5de2b", "#fde725"];
  var IN = "#1f77b4", OUT = "rgba(120,120,120,0.3)";
  var PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2",
    "#17becf", "#bcbd22", "#7f7f7f"];
  var LEGEND_MAX = 10;
  /* Axis labels: ECharts hides a label that would overlap another. It measures a line as the
   * width of a CJK glyph, next to nothing where no CJK font is installed, and then misses labels
   * stacked on a vertical axis: the line height is given. */
  var LABEL = { fontSize: 10, lineHeight: 12, hideOverlap: true };
  var FEW_TICKS = 8; /* a swept key with at most this many values is ticked at each value */
  var CHAR_WIDTH = 6.5, TILTED_WIDTH = 80; /* pixels: a label character at 10px; a tilted label */
  var TABLE_ROWS = 200; /* rows drawn at first (sorted, in the brush); a button draws more */
  var TOOLTIP = { renderMode: "richText", confine: true };
  var CHARTS = [];

  function chartOn(div) {
    var found = echarts.getInstanceByDom(div);
    if (found) return found;
    var made = echarts.init(div, null, { renderer: "canvas" });
    CHARTS.push(made);
    return made;
  }
  window.addEventListener("resize", function () { CHARTS.forEach(function (c) { c.resize(); }); });

  function element(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function short(value) {
    if (value === null || value === undefined) return "-";
    if (typeof value === "number") return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
    return String(value);
  }

  function tick(value) { return short(Number(value)); }

  function label(extra) { return Object.assign({}, LABEL, extra || {}); }

  /* A formatter that cuts a label to ``chars`` characters (the tooltip and table have it whole). */
  function cut(chars) {
    var most = Math.max(4, Math.floor(chars));
    return function (text) { text = String(text); return text.length > most ? text.slice(0, most - 1) + "…" : text; };
  }

  /* A numeric key's ticks: at each swept value when there are few (0.0005, 0.005, 0.05 on a log
   * axis, not the powers of ten between them), else ECharts' own; labels never on each other. */
  function keyTicks(values) {
    var seen = {}, distinct = [];
    values.forEach(function (v) { if (finite(v) && !seen[v]) { seen[v] = true; distinct.push(v); } });
    distinct.sort(function (a, b) { return a - b; });
    if (distinct.length > FEW_TICKS) return { axisLabel: label({ formatter: tick }) };
    return { axisTick: { customValues: distinct }, axisLabel: label({ formatter: tick, customValues: distinct }) };
  }

  /* A folder path that wraps after its slashes (<wbr>: copying it copies no extra character). */
  function breakAtSlashes(node, text) {
    node.textContent = "";
    text.split("/").forEach(function (part, i, parts) {
      var last = i === parts.length - 1;
      node.appendChild(document.createTextNode(last ? part : part + "/"));
      if (!last) node.appendChild(document.createElement("wbr"));
    });
  }

  function unpack(packed) {
    var low = packed[0], high = packed[1], bytes = atob(packed[2]);
    var span = high - low || 1, n = bytes.length / 2, out = new Array(n);
    for (var i = 0; i < n; i++) {
      var step = bytes.charCodeAt(2 * i) | (bytes.charCodeAt(2 * i + 1) << 8);
      out[i] = step === 65535 ? null : low + (step / 65534) * span;
    }
    return out;
  }

  function epochList(epochs) {
    if (Array.isArray(epochs)) return epochs;
    var out = new Array(epochs.count);
    for (var i = 0; i < epochs.count; i++) out[i] = epochs.first + i * epochs.step;
    if (epochs.last !== undefined) out.push(epochs.last);
    return out;
  }

  function finite(v) { return v !== null && v !== undefined && isFinite(v); }

  function mean(values) {
    var sum = 0, n = 0;
    values.forEach(function (v) { if (finite(v)) { sum += v; n++; } });
    return n ? sum / n : null;
  }

  function std(values) {
    var m = mean(values), sum = 0, n = 0;
    values.forEach(function (v) { if (finite(v)) { sum += (v - m) * (v - m); n++; } });
    return n > 1 ? Math.sqrt(sum / (n - 1)) : 0;
  }

  /* A small fixed offset per run, so a strip plot's points of one category spread out. */
  function jitter(i) {
    var x = Math.sin(i * 12.9898) * 43758.5453;
    return (x - Math.floor(x) - 0.5) * 0.5;
  }

  function Explorer(section, root) {
    this.s = section;
    this.root = root;
    this.runs = section.runs;
    this.mode = "runs";
    this.metric = section.metric;
    this.selected = [];
    this.sort = { column: section.metric, descending: this.higher(section.metric) };
    this.curveCache = {};
    this.part = function (name) { return root.querySelector("[data-view='" + name + "']"); };
    this.controls();
    this.drawParcoords();
    this.drawSearches();
    this.selectBest(3);
  }

  Explorer.prototype.higher = function (metric) {
    var found = this.s.metrics.filter(function (m) { return m.name === metric; })[0];
    return found ? found.higher : false;
  };

  Explorer.prototype.controls = function () {
    var self = this, bar = this.part("controls");
    var metric = element("select");
    metric.setAttribute("aria-label", "colour by");
    this.s.metrics.forEach(function (m) {
      var option = element("option", m.name);
      option.value = m.name;
      if (m.name === self.metric) option.selected = true;
      metric.appendChild(option);
    });
    metric.addEventListener("change", function () {
      self.metric = metric.value;
      self.sort = { column: metric.value, descending: self.higher(metric.value) };
      self.drawParcoords();
    });
    var mode = element("select");
    mode.setAttribute("aria-label", "one line per");
    [["runs", "one line per run"], ["groups", "one line per group (mean over seeds)"]].forEach(
      function (pair) {
        var option = element("option", pair[1]);
        option.value = pair[0];
        mode.appendChild(option);
      });
    mode.addEventListener("change", function () {
      self.mode = mode.value;
      self.drawParcoords();
    });
    bar.appendChild(element("label", "colour by "));
    bar.appendChild(metric);
    bar.appendChild(element("span", "  "));
    bar.appendChild(mode);
    this.count = element("span", "", "muted count");
    bar.appendChild(this.count);
  };

  /* The lines of the parallel coordinates: ok runs, or groups with their means. */
  Explorer.prototype.items = function () {
    var self = this, runs = this.runs;
    if (this.mode === "groups") {
      return this.s.groups.map(function (group, index) {
        var item = { index: index, members: group.members, values: {} };
        self.s.keys.forEach(function (key) { item.values[key.name] = runs.values[key.name][group.members[0]]; });
        self.s.metrics.forEach(function (m) {
          item.values[m.name] = mean(group.members.map(function (i) { return runs.metrics[m.name][i]; }));
        });
        return item;
      });
    }
    var items = [];
    runs.ok.forEach(function (ok, i) {
      if (!ok) return;
      var item = { index: i, members: [i], values: {} };
      self.s.keys.forEach(function (key) { item.values[key.name] = runs.values[key.name][i]; });
      self.s.metrics.forEach(function (m) { item.values[m.name] = runs.metrics[m.name][i]; });
      items.push(item);
    });
    return items;
  };

  Explorer.prototype.runLabel = function (i) {
    var group = this.runs.group[i], runs = this.runs;
    var parts = [group >= 0 ? this.s.groups[group].label : runs.id[i]];
    this.s.replicates.forEach(function (name) {
      var value = runs.replicates[name][i];
      if (value !== null && value !== undefined) parts.push(name + "=" + value);
    });
    return parts.join(" · ");
  };

  /* The axes: swept keys (categorical, log or linear), then the metrics every line has. */
  Explorer.prototype.axes = function (items) {
    var axes = [];
    this.s.keys.forEach(function (key) {
      var values = items.map(function (item) { return item.values[key.name]; });
      if (key.kind === "categorical") {
        axes.push({ name: key.name, type: "category", data: key.categories, values: values });
      } else if (values.every(finite)) {
        var log = key.log && values.every(function (v) { return v > 0; });
        axes.push({ name: key.name, type: log ? "log" : "value", values: values, key: true });
      }
    });
    this.s.metrics.forEach(function (m) {
      var values = items.map(function (item) { return item.values[m.name]; });
      if (values.every(finite)) axes.push({ name: m.name, type: "value", values: values, metric: true });
    });
    return axes;
  };

  Explorer.prototype.drawParcoords = function () {
    var self = this, view = this.part("parcoords");
    this.lines = this.items();
    this.brushed = null;
    if (!this.lines.length) {
      view.textContent = "no run finished ok: nothing to draw";
      return this.update();
    }
    var axes = this.axes(this.lines);
    this.axesShown = axes;
    var colour = axes.map(function (a) { return a.name; }).indexOf(this.metric);
    if (colour < 0) colour = axes.length - 1;
    var colours = axes[colour].values, higher = this.higher(axes[colour].name);
    var rows = this.lines.map(function (_, line) { return axes.map(function (a) { return a.values[line]; }); });
    var chart = chartOn(view);
    var left = 70, right = 160, gap = (view.clientWidth - left - right) / Math.max(1, axes.length - 1);
    var nameWidth = Math.max(40, Math.min(130, gap - 12)); /* an axis name stays off its neighbours */
    chart.setOption({
      animation: false,
      tooltip: TOOLTIP,
      parallel: {
        left: left, right: right, top: 60, bottom: 30,
        parallelAxisDefault: {
          nameLocation: "end", nameGap: 12,
          nameTextStyle: { fontSize: 11, lineHeight: 13, width: nameWidth, overflow: "breakAll" },
          axisLabel: label(),
          areaSelectStyle: { width: 16 }, scale: true,
        },
      },
      parallelAxis: axes.map(function (a, i) {
        var axis = { dim: i, name: a.name + (a.type === "log" ? " (log)" : ""), type: a.type };
        if (a.type === "log") Object.assign(axis, { min: "dataMin", max: "dataMax" });
        if (a.key && a.type !== "category") Object.assign(axis, keyTicks(a.values));
        if (a.data) Object.assign(axis, { data: a.data, axisLabel: { formatter: cut((gap - 20) / CHAR_WIDTH) } });
        return axis;
      }),
      visualMap: {
        type: "continuous", dimension: colour, min: Math.min.apply(null, colours), max: Math.max.apply(null, colours),
        inRange: { color: higher ? VIRIDIS : VIRIDIS.slice().reverse() }, right: 10, top: "middle",
        text: [axes[colour].name, ""], textGap: 8, precision: 3, itemHeight: 200, calculable: false,
      },
      series: [{
        type: "parallel", data: rows, progressive: 0, smooth: false,
        lineStyle: { width: 1, opacity: 0.55 }, inactiveOpacity: 0.04, activeOpacity: 0.9,
        emphasis: { disabled: true },
      }],
    }, { notMerge: true });
    if (!view._brushHooked) {
      view._brushHooked = true;
      chart.on("axisareaselected", function () { self.readBrush(); });
    }
    return this.update();
  };

  /* The brush: the lines inside every axis's selected intervals (ECharts keeps them). */
  Explorer.prototype.readBrush = function () {
    var chart = chartOn(this.part("parcoords")), model = chart.getModel(), active = false;
    for (var i = 0; i < this.axesShown.length; i++) {
      var axis = model.getComponent("parallelAxis", i);
      if (axis && axis.activeIntervals && axis.activeIntervals.length) active = true;
    }
    if (!active) {
      this.brushed = null;
    } else {
      var brushed = {};
      model.getSeries()[0].getRawIndicesByActiveState("active").forEach(function (line) { brushed[line] = true; });
      this.brushed = brushed;
    }
    return this.update();
  };

  /* Brush one axis from code (tests, benchmarks): intervals as [[low, high], ...]. */
  Explorer.prototype.brush = function (axisName, intervals) {
    var index = this.axesShown.map(function (a) { return a.name; }).indexOf(axisName);
    var chart = chartOn(this.part("parcoords"));
    chart.dispatchAction({
      type: "axisAreaSelect", parallelAxisId: chart.getModel().getComponent("parallelAxis", index).id,
      intervals: intervals,
    });
    return this.updated;
  };

  Explorer.prototype.isBrushed = function (line) {
    return this.brushed === null || this.brushed === undefined || !!this.brushed[line];
  };

  /* Runs inside the brush (all runs, failed ones too, when nothing is brushed). */
  Explorer.prototype.brushedRuns = function () {
    var self = this, inside = {};
    if (this.brushed === null || this.brushed === undefined) {
      this.runs.id.forEach(function (_, i) { inside[i] = true; });
      return inside;
    }
    (this.lines || []).forEach(function (item, line) {
      if (self.brushed[line]) item.members.forEach(function (i) { inside[i] = true; });
    });
    return inside;
  };

  /* The views that follow the brush; ``updated`` resolves once they are drawn on screen. */
  Explorer.prototype.update = function () {
    this.drawTable();
    this.drawSlices();
    var total = this.mode === "groups" ? this.s.groups.length : this.runs.id.length;
    this.count.textContent = "  " + this.tableRows.length + " of " + total + " " + this.mode +
      (this.brushed ? " in the brush" : "");
    this.updated = new Promise(function (resolve) { requestAnimationFrame(function () { setTimeout(resolve, 0); }); });
    return this.updated;
  };

  Explorer.prototype.columns = function () {
    var self = this, columns = [];
    this.s.keys.forEach(function (key) { columns.push({ name: key.name, kind: "key" }); });
    if (this.mode === "runs") {
      columns.unshift({ name: "status", kind: "text" });
      this.s.replicates.forEach(function (name) { columns.push({ name: name, kind: "replicate" }); });
    } else {
      columns.push({ name: "runs", kind: "count" });
    }
    this.s.metrics.forEach(function (m) { columns.push({ name: m.name, kind: "metric" }); });
    if (this.mode === "runs") {
      columns.push({ name: "folder", kind: "text" });
      columns.push({ name: "command", kind: "text" });
    }
    return columns.map(function (c) { c.sortable = c.kind !== "text" || c.name === "status"; return c; })
      .filter(function (c) { return self.mode === "runs" || c.kind !== "text"; });
  };

  Explorer.prototype.cell = function (row, column) {
    var runs = this.runs;
    if (this.mode === "groups") {
      var group = this.s.groups[row];
      if (column.kind === "key") return runs.values[column.name][group.members[0]];
      if (column.kind === "count") return group.members.length;
      return mean(group.members.map(function (i) { return runs.metrics[column.name][i]; }));
    }
    if (column.kind === "key") return runs.values[column.name][row];
    if (column.kind === "replicate") return runs.replicates[column.name][row];
    if (column.kind === "metric") return runs.metrics[column.name][row];
    return { status: runs.status, folder: runs.folder, command: runs.command }[column.name][row];
  };

  Explorer.prototype.drawTable = function () {
    var self = this, view = this.part("table"), columns = this.columns();
    var rows = [];
    if (this.mode === "groups") {
      this.s.groups.forEach(function (_, g) { if (self.isBrushed(g)) rows.push(g); });
    } else {
      var inside = this.brushedRuns();
      this.runs.id.forEach(function (_, i) { if (inside[i]) rows.push(i); });
    }
    var sortColumn = columns.filter(function (c) { return c.name === self.sort.column; })[0];
    if (sortColumn) {
      var sign = this.sort.descending ? -1 : 1;
      rows.sort(function (a, b) {
        var x = self.cell(a, sortColumn), y = self.cell(b, sortColumn);
        if (x === null || x === undefined) return 1;
        if (y === null || y === undefined) return -1;
        return (x < y ? -1 : x > y ? 1 : 0) * sign;
      });
    }
    this.tableRows = rows;
    var table = element("table", null, "runs");
    var head = table.createTHead().insertRow();
    columns.forEach(function (column) {
      var th = element("th", column.name + (column.name === self.sort.column ? (self.sort.descending ? " ▼" : " ▲") : ""));
      if (column.sortable) {
        th.className = "sortable";
        th.addEventListener("click", function () {
          var descending = self.sort.column === column.name ? !self.sort.descending : column.kind === "metric" && self.higher(column.name);
          self.sort = { column: column.name, descending: descending };
          self.drawTable();
        });
      }
      head.appendChild(th);
    });
    var body = table.createTBody();
    var shown = this.tableLimit || TABLE_ROWS;
    rows.slice(0, shown).forEach(function (row) {
      var tr = body.insertRow();
      tr.dataset.row = String(row);
      if (self.isSelected(row)) tr.className = "selected";
      columns.forEach(function (column) {
        var value = self.cell(row, column);
        var td = tr.insertCell();
        td.textContent = short(value);
        if (column.name === "command" || column.name === "folder") td.className = "copy";
        if (column.name === "folder") breakAtSlashes(td, short(value));
        if (column.kind === "metric" && self.mode === "groups") {
          var group = self.s.groups[row], values = group.members.map(function (i) { return self.runs.metrics[column.name][i]; });
          if (group.members.length > 1) td.textContent += " ± " + std(values).toPrecision(2);
        }
      });
      tr.addEventListener("click", function (event) {
        if (event.target.className === "copy") return; /* selecting text to copy */
        self.toggle(row);
      });
    });
    var parts = [table];
    if (rows.length > shown) {
      var more = element("button", "show " + Math.min(TABLE_ROWS, rows.length - shown) + " more of " +
        (rows.length - shown) + " rows not shown");
      more.addEventListener("click", function () {
        self.tableLimit = shown + TABLE_ROWS;
        self.drawTable();
      });
      parts.push(more);
    }
    view.replaceChildren.apply(view, parts);
  };

  /* Curves: the selected runs (a group's row selects all its runs). */
  Explorer.prototype.rowRuns = function (row) {
    return this.mode === "groups" ? this.s.groups[row].members : [row];
  };

  Explorer.prototype.isSelected = function (row) {
    var self = this;
    return this.rowRuns(row).every(function (i) { return self.selected.indexOf(i) >= 0; });
  };

  Explorer.prototype.toggle = function (row) {
    var self = this, members = this.rowRuns(row);
    if (this.isSelected(row)) {
      this.selected = this.selected.filter(function (i) { return members.indexOf(i) < 0; });
    } else {
      members.forEach(function (i) { if (self.selected.indexOf(i) < 0) self.selected.push(i); });
    }
    this.drawTable();
    this.drawCurves();
  };

  Explorer.prototype.selectBest = function (count) {
    var self = this, metric = this.s.metric, sign = this.higher(metric) ? -1 : 1;
    var ok = [];
    this.runs.ok.forEach(function (isOk, i) { if (isOk && finite(self.runs.metrics[metric][i])) ok.push(i); });
    ok.sort(function (a, b) { return sign * (self.runs.metrics[metric][a] - self.runs.metrics[metric][b]); });
    this.selected = ok.slice(0, count);
    this.drawTable();
    this.drawCurves();
  };

  Explorer.prototype.curves = function (i) {
    if (!(i in this.curveCache)) {
      var packed = this.s.curves[i], found = null;
      if (packed) {
        found = { epoch: epochList(packed.epoch) };
        Object.keys(packed).forEach(function (name) { if (name !== "epoch") found[name] = unpack(packed[name]); });
      }
      this.curveCache[i] = found;
    }
    return this.curveCache[i];
  };

  /* Curves: loss (left) and the section's score (right: accuracy, or RMSE for regression) per
   * epoch of the selected runs; solid validation, dotted training; a legend for up to
   * LEGEND_MAX runs, beyond that the tooltip names them. */
  Explorer.prototype.drawCurves = function () {
    var self = this, series = [], positive = true, names = [], score = this.s.score || "accuracy";
    var legend = this.selected.length <= LEGEND_MAX;
    this.selected.forEach(function (run, n) {
      var curves = self.curves(run);
      if (!curves) return;
      var colour = PALETTE[n % PALETTE.length], name = self.runLabel(run);
      names.push(name);
      [["val_loss", 0, "solid"], ["train_loss", 0, "dotted"],
        ["val_" + score, 1, "solid"], ["train_" + score, 1, "dotted"]].forEach(function (spec) {
        var values = curves[spec[0]];
        if (!values) return;
        if (spec[1] === 0) positive = positive && values.every(function (v) { return v === null || v > 0; });
        series.push({
          type: "line", name: name, xAxisIndex: spec[1], yAxisIndex: spec[1], showSymbol: false,
          triggerLineEvent: true, color: colour, lineStyle: { color: colour, type: spec[2], width: 1.5 },
          data: curves.epoch.map(function (e, k) { return [e, values[k] === null ? "-" : values[k]]; }),
          markLine: spec[2] === "solid" && finite(self.runs.best_epoch[run]) ? {
            silent: true, symbol: "none", label: { show: false }, animation: false,
            lineStyle: { color: colour, type: "dashed", width: 1 }, data: [{ xAxis: self.runs.best_epoch[run] }],
          } : undefined,
          tooltip: { formatter: function (p) { return name + "\n" + spec[0] + " " + short(p.value && p.value[1]) + " at epoch " + short(p.value && p.value[0]); } },
          emphasis: { focus: "series" },
        });
      });
    });
    var chart = chartOn(this.part("curves"));
    chart.setOption({
      animation: false,
      tooltip: Object.assign({ trigger: "item" }, TOOLTIP),
      legend: { show: legend, type: "scroll", bottom: 0, data: names },
      grid: [{ left: 60, right: "53%", top: 30, bottom: legend ? 70 : 40 }, { left: "55%", right: 20, top: 30, bottom: legend ? 70 : 40 }],
      xAxis: [0, 1].map(function (i) {
        return { type: "value", gridIndex: i, name: "epoch", nameLocation: "middle", nameGap: 25, scale: true, axisLabel: label() };
      }),
      yAxis: [positive ? { type: "log", gridIndex: 0, name: "loss", min: "dataMin", max: "dataMax", axisLabel: label({ formatter: tick }) }
        : { type: "value", gridIndex: 0, name: "loss", scale: true, axisLabel: label() },
        { type: "value", gridIndex: 1, name: score + (self.higher("val_" + score) ? " (higher is better)" : " (lower is better)"),
          scale: true, axisLabel: label() }],
      series: series,
    }, { notMerge: true });
    this.part("curves-note").textContent = this.selected.length
      ? this.selected.length + " runs selected; solid: validation, dotted: training, dashed: the best epoch" +
        (legend ? "" : "; hover a line for its run") + ". Click a table row or a point in a slice to add or remove one."
      : "Click a table row or a point in a slice to see its curves.";
  };

  /* Slices: the metric against each swept key; points per run (in the brush: blue), and each
   * group's mean with its seed spread (a band when one key is swept, else a bar per group).
   * Categorical keys are strip plots. */
  Explorer.prototype.drawSlices = function () {
    var self = this, view = this.part("slices"), runs = this.runs, metric = this.metric;
    var inside = this.brushedRuns();
    if (!this.sliceDivs) {
      this.sliceDivs = {};
      this.s.keys.forEach(function (key) {
        var div = element("div", null, "slice");
        view.appendChild(div);
        self.sliceDivs[key.name] = div;
      });
      if (!this.s.keys.length) view.appendChild(element("p", "no key was swept", "muted"));
    }
    this.s.keys.forEach(function (key) {
      var categorical = key.kind === "categorical", div = self.sliceDivs[key.name];
      var ok = [];
      runs.ok.forEach(function (isOk, i) {
        if (isOk && finite(runs.metrics[metric][i]) && runs.values[key.name][i] !== null) ok.push(i);
      });
      var x = function (i) {
        var v = runs.values[key.name][i];
        return categorical ? key.categories.indexOf(v) + jitter(i) : v;
      };
      var points = [true, false].map(function (wanted) {
        return {
          type: "scatter", name: wanted ? "in the brush" : "outside", symbolSize: 6, z: wanted ? 3 : 2,
          itemStyle: { color: wanted ? IN : OUT },
          data: ok.filter(function (i) { return !!inside[i] === wanted; })
            .map(function (i) { return [x(i), runs.metrics[metric][i], i]; }),
          tooltip: {
            formatter: function (p) { return self.runLabel(p.data[2]) + "\n" + metric + " " + short(p.data[1]); },
          },
        };
      });
      var series = points.concat(categorical ? [] : self.spread(key, metric));
      var tilted = categorical && self.tilted(key, div);
      var xAxis = categorical ? self.categoryAxis(key, tilted)
        : Object.assign(key.log ? { type: "log", min: "dataMin", max: "dataMax" } : { type: "value", scale: true },
          keyTicks(runs.values[key.name]));
      Object.assign(xAxis, { name: key.name, nameLocation: "middle", nameGap: tilted ? 62 : 28 });
      var chart = chartOn(div);
      chart.setOption({
        animation: false,
        tooltip: Object.assign({ trigger: "item" }, TOOLTIP),
        title: { text: key.name, left: "center", textStyle: { fontSize: 13, fontWeight: "normal" } },
        grid: { left: 65, right: 20, top: 35, bottom: tilted ? 80 : 45 },
        xAxis: xAxis,
        yAxis: { type: "value", name: metric, scale: true, nameLocation: "middle", nameGap: 48, axisLine: { onZero: false },
          axisLabel: label() },
        series: series,
      }, { notMerge: true });
      if (!div._clickHooked) {
        div._clickHooked = true;
        chart.on("click", function (p) {
          if (p.seriesType !== "scatter" || !p.data || typeof p.data[2] !== "number") return;
          var run = p.data[2];
          if (self.mode === "groups") {
            if (runs.group[run] >= 0) self.toggle(runs.group[run]);
          } else {
            self.toggle(run);
          }
        });
      }
    });
  };

  /* A strip plot's axis: a tick and a label per category, tilted when they would not fit side
   * by side, and cut to about TILTED_WIDTH pixels (the tooltip has them whole). */
  Explorer.prototype.categoryAxis = function (key, tilted) {
    var ticks = key.categories.map(function (_, i) { return i; });
    return {
      type: "value", min: -0.5, max: key.categories.length - 0.5, splitLine: { show: false },
      axisTick: { customValues: ticks },
      axisLabel: label({ customValues: ticks, rotate: tilted ? 30 : 0,
        formatter: function (v) { return cut(TILTED_WIDTH / CHAR_WIDTH)(key.categories[Math.round(v)] || ""); } }),
    };
  };

  Explorer.prototype.tilted = function (key, div) {
    var longest = Math.max.apply(null, key.categories.map(function (c) { return c.length; }));
    return longest * CHAR_WIDTH > (div.clientWidth - 85) / key.categories.length - 8;
  };

  Explorer.prototype.spread = function (key, metric) {
    var runs = this.runs, means = [];
    this.s.groups.forEach(function (group) {
      var values = group.members.map(function (i) { return runs.metrics[metric][i]; });
      var x = runs.values[key.name][group.members[0]];
      if (x !== null && group.members.length > 1) means.push({ x: x, y: mean(values), sd: std(values) });
    });
    if (!means.length) return [];
    means.sort(function (a, b) { return a.x - b.x; });
    var distinct = {};
    means.forEach(function (m) { distinct[m.x] = true; });
    var quiet = { silent: true, showSymbol: false, tooltip: { show: false } };
    if (Object.keys(distinct).length === means.length && means.length > 1) {
      return [
        Object.assign({ type: "line", stack: "spread", lineStyle: { opacity: 0 },
          data: means.map(function (m) { return [m.x, m.y - m.sd]; }) }, quiet),
        Object.assign({ type: "line", stack: "spread", lineStyle: { opacity: 0 }, areaStyle: { color: "rgba(31,119,180,0.15)" },
          data: means.map(function (m) { return [m.x, 2 * m.sd]; }) }, quiet),
        Object.assign({ type: "line", name: "mean over seeds", lineStyle: { color: IN, width: 1.5 },
          data: means.map(function (m) { return [m.x, m.y]; }) }, quiet),
      ];
    }
    var bars = [];
    means.forEach(function (m) { bars.push([m.x, m.y - m.sd], [m.x, m.y + m.sd], [m.x, "-"]); });
    return [Object.assign({ type: "line", name: "seed spread", lineStyle: { color: "#444", width: 1 }, data: bars }, quiet)];
  };

  /* Search results: each Optuna search's history (best so far) and importances. */
  Explorer.prototype.drawSearches = function () {
    var view = this.part("search");
    if (!view) return;
    this.s.searches.forEach(function (search) {
      var box = element("div", null, "search");
      box.appendChild(element("p", search.sweep, "muted"));
      var history = element("div", null, "plot"), importance = element("div", null, "plot");
      box.appendChild(history);
      box.appendChild(importance);
      view.appendChild(box);
      var complete = search.state.map(function (s) { return s === "COMPLETE"; });
      var base = { animation: false, tooltip: Object.assign({ trigger: "item" }, TOOLTIP), legend: { top: 25 },
        grid: { left: 60, right: 20, top: 60, bottom: 45 } };
      if (search.values.length === 1) {
        var values = search.values[0], maximize = search.directions[0] === "maximize", best = null;
        var trials = [], other = [], bestSoFar = [];
        search.number.forEach(function (number, i) {
          if (!complete[i] || !finite(values[i])) {
            if (finite(values[i])) other.push([number, values[i]]);
            return;
          }
          best = best === null ? values[i] : maximize ? Math.max(best, values[i]) : Math.min(best, values[i]);
          trials.push([number, values[i]]);
          bestSoFar.push([number, best]);
        });
        chartOn(history).setOption(Object.assign({
          title: { text: "Optimization history", left: "center", textStyle: { fontSize: 13, fontWeight: "normal" } },
          xAxis: { type: "value", name: "trial", nameLocation: "middle", nameGap: 25 },
          yAxis: { type: "value", name: search.objective[0], scale: true },
          series: [
            { type: "scatter", name: "trial", data: trials, itemStyle: { color: IN } },
            { type: "scatter", name: "pruned or failed", data: other, symbol: "diamond", itemStyle: { color: "#aaa" } },
            { type: "line", name: "best so far", data: bestSoFar, step: "end", showSymbol: false, lineStyle: { color: "#d62728" }, itemStyle: { color: "#d62728" } },
          ],
        }, base));
      } else {
        var front = {};
        search.front.forEach(function (n) { front[n] = true; });
        var pick = function (onFront) {
          var rows = [];
          search.number.forEach(function (n, i) {
            if (complete[i] && !!front[n] === onFront) rows.push([search.values[0][i], search.values[1][i], n]);
          });
          return { type: "scatter", name: onFront ? "Pareto front" : "trial", data: rows,
            symbolSize: onFront ? 10 : 6, itemStyle: { color: onFront ? "#d62728" : IN } };
        };
        chartOn(history).setOption(Object.assign({
          title: { text: "Trials and the Pareto front", left: "center", textStyle: { fontSize: 13, fontWeight: "normal" } },
          xAxis: { type: "value", name: search.objective[0], nameLocation: "middle", nameGap: 25, scale: true },
          yAxis: { type: "value", name: search.objective[1], scale: true },
          series: [pick(false), pick(true)],
        }, base));
      }
      var objectives = Object.keys(search.importances);
      if (!objectives.length) {
        importance.appendChild(element("p", "no importances: too few complete trials, or one parameter", "muted"));
        importance.className = "";
        return;
      }
      var params = Object.keys(search.importances[objectives[0]]).reverse();
      chartOn(importance).setOption(Object.assign({}, base, {
        title: { text: "Parameter importances", left: "center", textStyle: { fontSize: 13, fontWeight: "normal" } },
        grid: { left: 180, right: 20, top: 60, bottom: 45 },
        legend: { show: objectives.length > 1, top: 25 },
        xAxis: { type: "value", name: "importance", nameLocation: "middle", nameGap: 25 },
        yAxis: { type: "category", data: params },
        series: objectives.map(function (name) {
          return { type: "bar", name: name, data: params.map(function (p) { return search.importances[name][p] || 0; }) };
        }),
      }));
    });
  };

  window.explorers = DATA.sections.map(function (section, index) {
    return new Explorer(section, document.getElementById("explorer-" + index));
  });
  requestAnimationFrame(function () {
    setTimeout(function () { document.documentElement.dataset.explorer = "ready"; }, 0);
  });
})();
