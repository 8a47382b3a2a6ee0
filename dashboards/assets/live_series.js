/* Tidewatch live charts: which points a chart takes, in order, with gaps kept. Pure.
 *
 * A live chart is seeded with the last window read once from the range endpoint
 * (dashboards/live_seed.py), then extended from pushed samples. Each chart keeps a
 * small state so that nothing is drawn twice or out of order:
 *   after   a point earlier than this is already shown (the seed's last bucket end,
 *           or just past the last pushed sample): it is skipped;
 *   lastMs  the time of the last real point drawn;
 *   gapMs   the spacing a gap is measured against (from the seed);
 *   broken  whether the last row drawn is a gap break.
 * A gap (points further apart than two gapMs) is drawn as a null row, like
 * dashboards/figures.py with_gaps. Times are epoch ms, UTC; the feed shifts them for
 * display. Loaded before live_feed.js (assets load in name order) and used by it.
 */
(function () {
  "use strict";

  function create() {
    return { after: -Infinity, lastMs: null, gapMs: null, broken: false };
  }

  function isBreak(columns, i) {
    return columns.every(function (column) { return column[i] === null || column[i] === undefined; });
  }

  // The rows of (times, columns) that `state`'s chart does not show yet, as
  // { x: [...], y: [[...] per column] }, with a null row where a gap opens.
  function take(state, times, columns) {
    var out = { x: [], y: columns.map(function () { return []; }) };
    function row(t, i) {
      out.x.push(t);
      columns.forEach(function (column, c) { out.y[c].push(i === null ? null : column[i]); });
    }
    for (var i = 0; i < times.length; i++) {
      var t = times[i];
      if (t < state.after) continue;
      if (isBreak(columns, i)) {
        // A seeded break: kept, once, and only after a real point.
        if (state.lastMs !== null && !state.broken) {
          row(t, null);
          state.broken = true;
        }
        state.after = t + 1;
        continue;
      }
      if (state.lastMs !== null && !state.broken && state.gapMs && t - state.lastMs > 2 * state.gapMs) {
        row(state.lastMs + state.gapMs, null);
      }
      row(t, i);
      state.lastMs = t;
      state.broken = false;
      state.after = t + 1;
    }
    return out;
  }

  // A seed: the chart's window from the range endpoint. until_ms is the end of its last
  // bucket, so a pushed sample inside that bucket (already counted) is skipped too.
  function seed(state, series) {
    if (series.gap_ms) state.gapMs = series.gap_ms;
    var out = take(state, series.time_ms, series.columns);
    if (series.until_ms !== null && series.until_ms !== undefined) {
      state.after = Math.max(state.after, series.until_ms);
    }
    return out;
  }

  window.tidewatchSeries = { create: create, take: take, seed: seed };
})();
