// zhizhi console: draws the charts of the server-rendered pages with ECharts. Every visible string comes from
// the page's i18n dictionary (T); the page data comes from <script id="page-data">.
(function () {
  'use strict';

  var dict = JSON.parse(document.getElementById('i18n').textContent || '{}');
  function T(key) {
    return Object.prototype.hasOwnProperty.call(dict, key) ? dict[key] : '!' + key + '!';
  }
  function esc(s) {
    return String(s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }

  var dataEl = document.getElementById('page-data');
  if (!dataEl || typeof echarts === 'undefined') {
    return;
  }
  var page = JSON.parse(dataEl.textContent);
  var charts = [];
  window.addEventListener('resize', function () {
    charts.forEach(function (c) { c.resize(); });
  });
  function init(el) {
    el.textContent = '';
    var c = echarts.init(el, null, { renderer: 'canvas' });
    charts.push(c);
    return c;
  }
  function fail(el) {
    el.innerHTML = '<p class="loading">' + esc(T('load_failed')) + '</p>';
  }

  // Load colours shared by the calendar and the matrix: gaps grey, long idle deep blue, overload red.
  var GAP = -1;
  var loadPieces = [
    { value: GAP, color: '#d4d4d4', label: T('legend_gap') },
    { gte: 0, lt: 5, color: '#1d3a6e', label: T('legend_idle') },
    { gte: 5, lt: 20, color: '#5b8fd1', label: T('legend_low') },
    { gte: 20, lt: 50, color: '#9bd3a0', label: T('legend_normal') },
    { gte: 50, lt: 80, color: '#f3c04f', label: T('legend_busy') },
    { gte: 80, color: '#d7301f', label: T('legend_high') }
  ];
  var kindNames = [T('kind_workday'), T('kind_weekend'), T('kind_holiday'), T('kind_adjusted')];
  var kindPieces = [
    { value: 0, color: '#eef1f5', label: kindNames[0] },
    { value: 1, color: '#8d99a6', label: kindNames[1] },
    { value: 2, color: '#8e44ad', label: kindNames[2] },
    { value: 3, color: '#16a085', label: kindNames[3] }
  ];
  function dayLabel(doc, i) {
    var s = doc.days[i] + ' ' + kindNames[doc.kinds[i]];
    var h = doc.holidays[String(i)];
    return h ? s + ' (' + h + ')' : s;
  }
  function valueLabel(v) {
    return v === GAP || v === null ? T('no_data') : v.toFixed(1) + '%';
  }

  // ---- detail charts (system and host pages) ----
  var metricTitle = { cpu: T('metric_cpu'), mem: T('metric_mem'), disk: T('metric_disk'), conn: T('metric_conn') };

  function seriesURL(hostID, metric) {
    var q = page.day ? 'day=' + encodeURIComponent(page.day) : 'range=' + encodeURIComponent(page.range || '24h');
    return '/console/api/hosts/' + hostID + '/series?metric=' + metric + '&' + q;
  }

  function drawDetail(el) {
    var metric = el.getAttribute('data-metric');
    var percent = metric !== 'conn';
    Promise.all(page.hosts.map(function (h) {
      return fetch(seriesURL(h.id, metric), { credentials: 'same-origin' }).then(function (r) {
        if (!r.ok) { throw new Error(r.status); }
        return r.json();
      });
    })).then(function (docs) {
      var series = [];
      docs.forEach(function (doc, i) {
        var name = page.hosts[i].name;
        var avg = doc.points.map(function (p) { return [p.ts, Math.round(p.avg * 10) / 10]; });
        series.push({ name: page.kind === 'host' ? T('series_avg') : name, type: 'line', showSymbol: false,
          sampling: 'lttb', data: avg, lineStyle: { width: 1.5 } });
        if (page.kind === 'host') {
          series.push({ name: T('series_max'), type: 'line', showSymbol: false, sampling: 'lttb',
            lineStyle: { width: 1, type: 'dashed' },
            data: doc.points.map(function (p) { return [p.ts, Math.round(p.max * 10) / 10]; }) });
        }
      });
      var empty = series.every(function (s) { return s.data.length === 0; });
      var c = init(el);
      c.setOption({
        title: { text: metricTitle[metric], left: 8, top: 4, textStyle: { fontSize: 13 },
          subtext: empty ? T('no_data') : '', subtextStyle: { color: '#888' } },
        tooltip: { trigger: 'axis', valueFormatter: function (v) { return percent ? v + '%' : String(v); } },
        legend: { type: 'scroll', right: 8, top: 4, width: '55%' },
        grid: { left: 48, right: 16, top: 40, bottom: 28 },
        xAxis: { type: 'time' },
        yAxis: percent ? { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } } : { type: 'value', min: 0 },
        series: series
      });
    }).catch(function () { fail(el); });
  }

  // ---- calendar heatmap of one system (system page) ----
  function drawCalendar(el, cal) {
    var data = cal.days.map(function (d, i) {
      var v = cal.values[i];
      return [d, v === null ? GAP : v, i];
    });
    var c = init(el);
    c.setOption({
      tooltip: { formatter: function (p) {
        return esc(dayLabel(cal, p.value[2])) + '<br>' + esc(valueLabel(p.value[1]));
      } },
      visualMap: { type: 'piecewise', dimension: 1, pieces: loadPieces, orient: 'horizontal', left: 'center', bottom: 0,
        itemWidth: 14, itemHeight: 10, textStyle: { fontSize: 11 } },
      calendar: { range: String(cal.year), top: 30, left: 40, right: 20, cellSize: ['auto', 15],
        dayLabel: { firstDay: 1, nameMap: [T('wd_sun'), T('wd_mon'), T('wd_tue'), T('wd_wed'), T('wd_thu'), T('wd_fri'), T('wd_sat')] },
        monthLabel: { nameMap: [T('m1'), T('m2'), T('m3'), T('m4'), T('m5'), T('m6'), T('m7'), T('m8'), T('m9'), T('m10'), T('m11'), T('m12')] },
        yearLabel: { show: false }, itemStyle: { borderColor: '#fff', borderWidth: 1 },
        splitLine: { lineStyle: { color: '#555', width: 1 } } },
      series: [{ type: 'heatmap', coordinateSystem: 'calendar', data: data }]
    });
    c.on('click', function (p) {
      if (p.value) { location.href = '/systems/' + page.system_id + '?day=' + encodeURIComponent(p.value[0]); }
    });
  }

  // ---- district matrix (heatmap page): systems x days, drawn on canvas, only visible rows rendered ----
  function drawMatrix(el, doc) {
    var nDays = doc.days.length;
    var nRows = doc.rows.length;
    if (nRows === 0) {
      el.innerHTML = '<p class="loading">' + esc(T('no_systems')) + '</p>';
      return;
    }
    // Only the rows around the visible window are handed to ECharts (1,000 systems x 365 days would be
    // 365,000 cells); scrolling hands over the next window.
    var win = { lo: -1, hi: -1 };
    function cellsFor(lo, hi) {
      var cells = new Array((hi - lo + 1) * nDays);
      var k = 0;
      for (var y = lo; y <= hi; y++) {
        var vals = doc.values[y];
        for (var x = 0; x < nDays; x++) {
          var v = vals[x];
          cells[k++] = [x, y, v === null ? GAP : v];
        }
      }
      return cells;
    }
    function windowFor(start, end) {
      if (start >= win.lo && end <= win.hi) { return null; }
      var pad = end - start + 1;
      win.lo = Math.max(0, start - pad);
      win.hi = Math.min(nRows - 1, end + pad);
      return cellsFor(win.lo, win.hi);
    }
    var strip = doc.kinds.map(function (kd, x) { return [x, 0, kd]; });
    var labels = doc.rows.map(function (r, i) {
      var first = i === 0 || doc.rows[i - 1].department !== r.department;
      return first ? '{d|' + r.department + '} ' + r.system : r.system;
    });
    var xLabels = doc.days.map(function (d) { return d.slice(5); });
    // Rows of about 14 px: as many as the chart's height holds (the slider and the wheel scroll the rest).
    var visible = Math.max(10, Math.min(nRows, Math.floor((el.clientHeight - 130) / 14)));
    var cells = windowFor(0, visible - 1);
    var c = init(el);
    c.setOption({
      animation: false,
      tooltip: { formatter: function (p) {
        if (p.seriesIndex === 1) { return esc(dayLabel(doc, p.value[0])); }
        var r = doc.rows[p.value[1]];
        return esc(r.department) + ' / <b>' + esc(r.system) + '</b><br>' + esc(dayLabel(doc, p.value[0])) +
          '<br>' + esc(valueLabel(p.value[2])) + '<br><span style="color:#888">' + esc(T('click_hint')) + '</span>';
      } },
      grid: [
        { left: 190, right: 70, top: 34, height: 12 },
        { left: 190, right: 70, top: 52, bottom: 64 }
      ],
      xAxis: [
        { type: 'category', gridIndex: 0, data: xLabels, show: false },
        { type: 'category', gridIndex: 1, data: xLabels, splitArea: { show: false },
          axisLabel: { interval: function (i, v) { return v.slice(3) === '01'; }, fontSize: 11 } }
      ],
      yAxis: [
        { type: 'category', gridIndex: 0, data: [T('calendar_row')], axisTick: { show: false },
          axisLabel: { fontSize: 11 } },
        { type: 'category', gridIndex: 1, data: labels, inverse: true, axisTick: { show: false },
          axisLabel: { interval: 0, fontSize: 11, width: 180, overflow: 'truncate',
            rich: { d: { fontWeight: 'bold', color: '#1d3a6e' } } } }
      ],
      dataZoom: [
        { type: 'slider', id: 'rows', yAxisIndex: 1, right: 8, width: 16, startValue: 0, endValue: visible - 1,
          filterMode: 'none', showDetail: false, brushSelect: false },
        { type: 'inside', id: 'rows-wheel', yAxisIndex: 1, filterMode: 'none', zoomOnMouseWheel: false, moveOnMouseWheel: true },
        { type: 'inside', xAxisIndex: [0, 1], filterMode: 'none', zoomOnMouseWheel: 'ctrl' }
      ],
      visualMap: [
        { type: 'piecewise', seriesIndex: 0, dimension: 2, pieces: loadPieces, orient: 'horizontal', left: 190, bottom: 4,
          itemWidth: 14, itemHeight: 10, textStyle: { fontSize: 11 } },
        { type: 'piecewise', seriesIndex: 1, dimension: 2, pieces: kindPieces, orient: 'horizontal', left: 190, top: 4,
          itemWidth: 14, itemHeight: 10, textStyle: { fontSize: 11 } }
      ],
      series: [
        { type: 'heatmap', xAxisIndex: 1, yAxisIndex: 1, data: cells, progressive: 8000,
          progressiveThreshold: 20000, emphasis: { disabled: true } },
        { type: 'heatmap', xAxisIndex: 0, yAxisIndex: 0, data: strip, emphasis: { disabled: true } }
      ]
    });
    c.on('datazoom', function (p) {
      var b = p.batch ? p.batch[0] : p;
      if (b.dataZoomId && b.dataZoomId.indexOf('rows') < 0) { return; }
      var start, end;
      if (b.startValue !== undefined && b.startValue !== null) {
        start = b.startValue; end = b.endValue;
      } else if (b.start !== undefined) {
        start = Math.floor(b.start / 100 * (nRows - 1)); end = Math.ceil(b.end / 100 * (nRows - 1));
      } else {
        return;
      }
      var next = windowFor(Math.max(0, start), Math.min(nRows - 1, end));
      if (next) { c.setOption({ series: [{ data: next }] }); }
    });
    c.on('click', function (p) {
      if (p.seriesIndex !== 0) { return; }
      var r = doc.rows[p.value[1]];
      location.href = '/systems/' + r.id + '?day=' + encodeURIComponent(doc.days[p.value[0]]);
    });
    // For browser tests: the number of cells and when the chart became interactive (ms since navigation).
    el.setAttribute('data-cells', String(nRows * nDays));
    el.setAttribute('data-ready-ms', String(Math.round(performance.now())));
  }

  if (page.kind === 'matrix') {
    var el = document.getElementById('matrix-chart');
    fetch(page.url, { credentials: 'same-origin' }).then(function (r) {
      if (!r.ok) { throw new Error(r.status); }
      return r.json();
    }).then(function (doc) { drawMatrix(el, doc); }).catch(function () { fail(el); });
    return;
  }
  document.querySelectorAll('.chart[data-metric]').forEach(drawDetail);
  if (page.calendar) {
    drawCalendar(document.getElementById('calendar-chart'), page.calendar);
  }
})();
