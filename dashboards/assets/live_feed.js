/* Tidewatch live feed: one WebSocket per tab to the API's /api/live.
 *
 * A page hands its subscription over through a dcc.Store (dashboards/live_feed.py).
 * The token goes in a first "auth" message, never in the URL. A dropped socket
 * reconnects with jittered exponential backoff; a refused token (4401) stops.
 * Samples are written into the page with dash_clientside.set_props, coalesced per
 * VPS into one update every FLUSH_MS: charts grow in place (extendData, with a
 * maxPoints window), numbers are replaced, and only where the page shows another
 * value. "status" messages (a VPS went online or offline) rewrite the VPS's status
 * badge at once. The feed closes when its page is gone.
 *
 * A page whose config has "seed" (the VPS page's live charts) asks the server once for
 * the charts' last window when it opens and after each reconnection
 * (dashboards/live_seed.py); pushed samples are held until that seed is drawn, and a
 * chart takes only points newer than what it shows (live_series.js).
 *
 * The number formats mirror dashboards/units.py (tests/e2e/test_live_browser.py
 * compares both).
 */
(function () {
  "use strict";

  var BACKOFF_MIN_MS = 500;
  var BACKOFF_MAX_MS = 15000;
  var PING_MS = 25000;
  var CHECK_MS = 1000;
  var FLUSH_MS = 30;
  var RESUBSCRIBE_MS = 60000;
  var RESYNC_MIN_MS = 5000;
  // A seed not back by then is given up: held samples go on the charts without it.
  var SEED_TIMEOUT_MS = 20000;
  var UNAUTHORIZED = 4401;
  var BINARY_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

  // -- formats (dashboards/units.py) ------------------------------------------------
  function byteScale(largest) {
    var divisor = 1, index = 0;
    while (Math.abs(largest) >= divisor * 1024 && index < BINARY_UNITS.length - 1) {
      divisor *= 1024;
      index += 1;
    }
    return [divisor, BINARY_UNITS[index]];
  }
  function formatBytes(value) {
    if (value === null || value === undefined) return "—";
    var scale = byteScale(value);
    if (scale[1] === "B") return value.toFixed(0) + " B";
    var scaled = value / scale[0];
    return (scaled < 100 ? scaled.toFixed(1) : scaled.toFixed(0)) + " " + scale[1];
  }
  function formatRate(value) {
    return value === null || value === undefined ? "—" : formatBytes(value) + "/s";
  }
  function formatPercent(value) {
    return value === null || value === undefined ? "—" : value.toFixed(1) + "%";
  }
  function percent(used, total) {
    return used === null || used === undefined || !total ? null : (100 * used) / total;
  }
  function level(value, levels) {
    if (value === null) return "none";
    return value >= levels[1] ? "critical" : value >= levels[0] ? "warn" : "ok";
  }

  // -- writing into the page -----------------------------------------------------------
  function fleetId(vpsId, field) {
    return { type: "fleet-live", vps: vpsId, field: field };
  }
  function domId(id) {
    if (typeof id === "string") return id;
    // Dash's stringifyId: keys sorted, values as JSON.
    return "{" + Object.keys(id).sort().map(function (k) {
      return JSON.stringify(k) + ":" + JSON.stringify(id[k]);
    }).join(",") + "}";
  }
  function present(id) {
    return document.getElementById(domId(id)) !== null;
  }
  // Whether the element already shows `props`. The page itself is the last value: a
  // shadow copy would go stale when a fleet or header re-read redraws the element.
  function shows(el, props) {
    return Object.keys(props).every(function (key) {
      var want = props[key];
      if (key === "className") return el.className === want;
      if (key === "style") {
        return Object.keys(want).every(function (k) { return el.style[k] === want[k]; });
      }
      if (key === "children" && typeof want === "string") {
        return el.childElementCount === 0 && el.textContent === want;
      }
      return false; // extendData, component children: always written
    });
  }
  // check: false writes every element (the old behaviour), for bench/fleet_render.py's
  // side-by-side comparison only.
  var writes = { made: 0, skipped: 0, check: true };
  function setProps(id, props) {
    // Only what is on the page (another page or view may be showing), and only a change:
    // each set_props costs Dash a store update and a render (bench/fleet_render.py).
    var el = document.getElementById(domId(id));
    if (el === null) return;
    if (writes.check && shows(el, props)) {
      writes.skipped += 1;
      return;
    }
    writes.made += 1;
    window.dash_clientside.set_props(id, props);
  }

  var DOT = { type: "Span", namespace: "dash_html_components", props: { className: "tw-dot" } };
  // A VPS's status badge (live id field "status": a fleet card or row, the VPS page's
  // header): its word and its tw-status-* class, keeping its other classes and its shape.
  function renderStatus(vpsId, online) {
    var id = fleetId(vpsId, "status");
    var el = document.getElementById(domId(id));
    if (el === null) return;
    var state = online ? "online" : "offline";
    var className = el.className.replace(/\btw-status-(online|offline)\b/, "tw-status-" + state);
    if (className.indexOf("tw-status-" + state) < 0) className += " tw-status-" + state;
    var dotted = el.querySelector(".tw-dot") !== null;
    if (writes.check && el.className === className && el.textContent === state) {
      writes.skipped += 1;
      return;
    }
    setProps(id, { className: className, children: dotted ? [DOT, state] : state });
  }

  // The live charts' columns of `samples`, by chart id, in each chart's trace order.
  function chartColumns(samples) {
    function column(f) { return samples.map(f); }
    return {
      "vps-live-cpu": [column(function (s) { return s.cpu_percent; })],
      "vps-live-memory": [column(function (s) { return percent(s.memory_used_bytes, s.memory_total_bytes); })],
      "vps-live-network": [
        column(function (s) { return s.rx_bytes_per_second; }),
        column(function (s) { return s.tx_bytes_per_second; }),
      ],
      "vps-live-load": [column(function (s) { return s.load_1; })],
    };
  }
  function chartState(chart) {
    return feed.charts[chart] || (feed.charts[chart] = window.tidewatchSeries.create());
  }
  // Extend `chart` by rows {x, y} (epoch ms, UTC), shown in the browser's time zone.
  // Rows wait in an outbox until the chart is drawn, and go in one extendData per chart
  // per flush: a second extendData set before the Graph renders would replace the first.
  var outbox = {};
  var outboxTimer = null;
  function extendChart(config, chart, rows) {
    if (!rows.x.length) return;
    var box = outbox[chart] || (outbox[chart] = { x: [], y: rows.y.map(function () { return []; }) });
    box.x = box.x.concat(rows.x);
    box.y = box.y.map(function (column, i) { return column.concat(rows.y[i]).slice(-config.max_points); });
    box.x = box.x.slice(-config.max_points);
    if (outboxTimer === null) outboxTimer = setTimeout(flushCharts, 0);
  }
  function flushCharts() {
    outboxTimer = null;
    var config = feed.config;
    if (!config) {
      outbox = {};
      return;
    }
    var shift = -new Date().getTimezoneOffset() * 60000;
    Object.keys(outbox).forEach(function (chart) {
      if (document.querySelector("#" + chart + " .js-plotly-plot") === null) return;
      var rows = outbox[chart];
      delete outbox[chart];
      var xs = rows.x.map(function (t) { return t + shift; });
      setProps(chart, {
        extendData: [
          { x: rows.y.map(function () { return xs; }), y: rows.y },
          rows.y.map(function (_, i) { return i; }),
          config.max_points,
        ],
      });
      showAxes(chart);
    });
    if (Object.keys(outbox).length) outboxTimer = setTimeout(flushCharts, 100);
  }
  // A live chart opens blank, axes hidden and a note (dashboards/live_view.py): its first
  // points bring the axes back. The Graph re-plots only for a new figure, never for
  // extendData, so this layout change stays.
  function showAxes(chart) {
    var graph = document.querySelector("#" + chart + " .js-plotly-plot");
    if (!graph || !graph.layout || !graph.layout.xaxis || graph.layout.xaxis.visible !== false) return;
    window.Plotly.relayout(graph, { "xaxis.visible": true, "yaxis.visible": true, annotations: [] });
  }
  // Pushed samples onto the charts: only what each chart does not show yet, in order.
  function extendCharts(config, samples) {
    var times = samples.map(function (s) { return s.time_ms; });
    var columns = chartColumns(samples);
    config.charts.forEach(function (chart) {
      if (!columns[chart]) return;
      extendChart(config, chart, window.tidewatchSeries.take(chartState(chart), times, columns[chart]));
    });
  }

  function renderVps(config, batch) {
    var vpsId = config.subscribe.vps_ids[0];
    var got = batch[vpsId];
    if (!got || !got.length) return;
    got = got.slice().sort(function (a, b) { return a.time_ms - b.time_ms; });
    if (feed.seeding) {
      // The seed is on its way: these wait for it, then take only what it lacks.
      feed.held = feed.held.concat(got).slice(-config.max_points);
    } else {
      extendCharts(config, got);
    }
    var s = got[got.length - 1];
    setProps("vps-live-cpu-value", { children: formatPercent(s.cpu_percent) });
    setProps("vps-live-memory-value", {
      children: formatPercent(percent(s.memory_used_bytes, s.memory_total_bytes)) +
        " · " + formatBytes(s.memory_used_bytes) + " of " + formatBytes(s.memory_total_bytes),
    });
    setProps("vps-live-load-value", { children: s.load_1 === undefined ? "—" : s.load_1.toFixed(2) });
    setProps("vps-live-rx-value", { children: formatRate(s.rx_bytes_per_second) });
    setProps("vps-live-tx-value", { children: formatRate(s.tx_bytes_per_second) });
    setProps("vps-live-updated", { children: "sample at " + new Date(s.time_ms).toLocaleTimeString() });
    setProps("vps-live-sample-ms", { children: String(s.time_ms) });
    renderStatus(vpsId, true);
  }

  var lastResync = 0;
  function resync(config) {
    // A card drawn before its agent's first report has no meters yet: re-read the fleet.
    if (!config.resync || Date.now() - lastResync < RESYNC_MIN_MS) return;
    lastResync = Date.now();
    // An Interval has no DOM node: the page's root being there vouches for it.
    if (present(config.root)) window.dash_clientside.set_props(config.resync, { n_intervals: lastResync });
  }
  function renderFleet(config, batch) {
    var levels = config.levels;
    Object.keys(batch).forEach(function (key) {
      var list = batch[key];
      var s = list[list.length - 1];
      var id = s.vps_id;
      if (!present(fleetId(id, "status")) && !present(fleetId(id, "net"))) return;
      if (!present(fleetId(id, "cpu"))) resync(config);
      renderStatus(id, true);
      var memory = percent(s.memory_used_bytes, s.memory_total_bytes);
      [["cpu", s.cpu_percent, "load " + (s.load_1 || 0).toFixed(2)],
       ["memory", memory, formatBytes(s.memory_used_bytes) + " of " + formatBytes(s.memory_total_bytes)]]
        .forEach(function (m) {
          var value = m[1] === undefined ? null : m[1];
          var width = value === null ? 0 : Math.max(0, Math.min(100, value));
          setProps(fleetId(id, m[0]), { children: formatPercent(value) });
          setProps(fleetId(id, m[0] + "-bar"), {
            className: "tw-meter-fill tw-level-" + level(value, levels),
            style: { width: width.toFixed(1) + "%" },
          });
          setProps(fleetId(id, m[0] + "-detail"), { children: m[2] });
        });
      setProps(fleetId(id, "net"), {
        children: "↓ " + formatRate(s.rx_bytes_per_second) + "  ↑ " + formatRate(s.tx_bytes_per_second),
      });
    });
  }

  var VIEWS = { vps: renderVps, fleet: renderFleet };

  // -- the socket ----------------------------------------------------------------------
  var feed = {
    config: null,
    token: null,
    ws: null,
    retryMs: BACKOFF_MIN_MS,
    retryTimer: null,
    pending: {},
    flushTimer: null,
    samples: 0,
    // Live charts: each one's state (live_series.js), and the seed read once on open and
    // after each reconnection (dashboards/live_seed.py).
    charts: {},
    seeding: false,
    seedSeq: 0,
    seedAskedAt: 0,
    seeds: 0,
    held: [],
  };

  // Ask the server for the charts' last window (one read of the range endpoints).
  // Pushed samples are held meanwhile, so the seed goes on the charts first.
  function askSeed() {
    var config = feed.config;
    if (!config || !config.seed || !present(config.root)) return;
    feed.seedSeq += 1;
    feed.seeding = true;
    feed.seedAskedAt = Date.now();
    window.dash_clientside.set_props(config.seed.ask, {
      data: { seq: feed.seedSeq, vps_id: config.subscribe.vps_ids[0] },
    });
  }
  function releaseHeld() {
    feed.seeding = false;
    var held = feed.held;
    feed.held = [];
    if (held.length && feed.config) extendCharts(feed.config, held);
  }
  // The seed is back (a clientside callback on the seed store): draw it, then the held samples.
  function applySeed(seed) {
    var config = feed.config;
    var none = window.dash_clientside.no_update;
    if (!seed || !config || !config.seed || seed.seq !== feed.seedSeq) return none;
    if (seed.vps_id !== config.subscribe.vps_ids[0]) return none;
    var charts = seed.charts || {};
    config.charts.forEach(function (chart) {
      if (charts[chart]) extendChart(config, chart, window.tidewatchSeries.seed(chartState(chart), charts[chart]));
    });
    releaseHeld();
    feed.seeds += 1;
    return seed.error ? "seed failed: " + seed.error : String(feed.seeds);
  }

  function status(text, state) {
    if (feed.config) setProps(feed.config.status, { children: text, className: "tw-live-status is-" + state });
  }
  function send(message) {
    if (feed.ws && feed.ws.readyState === WebSocket.OPEN) feed.ws.send(JSON.stringify(message));
  }
  function subscribe() {
    send(Object.assign({ type: "subscribe" }, feed.config.subscribe));
  }

  function flush() {
    feed.flushTimer = null;
    var batch = feed.pending;
    feed.pending = {};
    var render = feed.config && VIEWS[feed.config.view];
    if (render) render(feed.config, batch);
  }
  function queue(sample) {
    feed.samples += 1;
    var list = feed.pending[sample.vps_id] || (feed.pending[sample.vps_id] = []);
    list.push(sample);
    if (feed.config && list.length > feed.config.max_points) list.shift();
    if (feed.flushTimer === null) feed.flushTimer = setTimeout(flush, FLUSH_MS);
  }

  function stop() {
    clearTimeout(feed.retryTimer);
    var ws = feed.ws;
    feed.ws = null;
    if (ws) ws.close(1000, "page left");
  }

  function connect() {
    clearTimeout(feed.retryTimer);
    var ws = new WebSocket(feed.config.url);
    feed.ws = ws;
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "auth", token: feed.token }));
    };
    ws.onmessage = function (event) {
      if (ws !== feed.ws) return;
      var message = JSON.parse(event.data);
      if (message.type === "welcome") {
        feed.retryMs = BACKOFF_MIN_MS;
        subscribe();
        askSeed(); // on open, and after a gap: the charts take what they missed
      } else if (message.type === "subscribed") {
        var watching = (message.watching || []).length > 0;
        status(message.listening ? (watching ? "live · every sample" : "live") : "live · feed paused", "live");
      } else if (message.type === "sample") {
        queue(message.sample);
      } else if (message.type === "status") {
        // Rare and urgent: written at once, not coalesced with samples.
        if (feed.config) renderStatus(message.vps_id, message.online);
      }
    };
    ws.onclose = function (event) {
      if (ws !== feed.ws) return;
      feed.ws = null;
      if (event.code === UNAUTHORIZED) {
        status("signed out", "off");
        return;
      }
      status("reconnecting…", "off");
      var delay = feed.retryMs * (0.5 + Math.random() / 2);
      feed.retryMs = Math.min(BACKOFF_MAX_MS, feed.retryMs * 2);
      feed.retryTimer = setTimeout(function () { if (feed.config) connect(); }, delay);
    };
  }

  function configure(config, session) {
    var token = session && session.token;
    if (!config || !token) return "";
    var same = feed.config && feed.ws && feed.config.url === config.url && feed.token === token;
    feed.config = config;
    feed.token = token;
    feed.pending = {};
    // A page's charts are new: they start from nothing, and from a seed.
    feed.charts = {};
    outbox = {};
    feed.held = [];
    feed.seeding = false;
    if (same) {
      subscribe();
      askSeed();
    } else {
      stop();
      feed.retryMs = BACKOFF_MIN_MS;
      connect();
    }
    return "live feed: " + config.view;
  }

  // Close when the page that asked for the feed is gone; keep the socket alive; pick up
  // VPSes added to a watched fleet.
  var lastSubscribe = Date.now();
  setInterval(function () {
    if (feed.config && !present(feed.config.root)) {
      feed.config = null;
      stop();
    }
    if (feed.seeding && Date.now() - feed.seedAskedAt > SEED_TIMEOUT_MS) releaseHeld();
  }, CHECK_MS);
  setInterval(function () { send({ type: "ping" }); }, PING_MS);
  setInterval(function () {
    if (feed.config && feed.config.subscribe.all && Date.now() - lastSubscribe >= RESUBSCRIBE_MS) {
      lastSubscribe = Date.now();
      subscribe();
    }
  }, RESUBSCRIBE_MS);

  window.tidewatchLive = {
    feed: feed,
    writes: writes,
    render: VIEWS,
    format: { bytes: formatBytes, rate: formatRate, percent: formatPercent },
  };
  window.dash_clientside = window.dash_clientside || {};
  window.dash_clientside.tidewatch = Object.assign(window.dash_clientside.tidewatch || {}, {
    configureLive: configure,
    seedLive: applySeed,
  });
})();
