// Turning chart answers of the history API (docs/api.md "Chart series") into the series
// line.js draws. The server has already bucketed the points (exact count/min/max/mean per
// bucket); this only picks coordinates.
//
//   import { seriesFromBuckets, groupSeries } from "/static/js/panels/history.js";
//   const s = seriesFromBuckets(answer.series["loss"], { id: run.id, label: run.name, color });
//   // -> {id, label, color, x, y, min, max, stepStart, stepEnd, banded}

function number(value) {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/**
 * One run's key as a line: x is the bucket's x range midpoint (the step itself for a
 * bucket of one point), y its mean (null — a gap — where it held only NaN), and min/max
 * as the band. `banded` is true when some bucket holds more than one point, i.e. when the
 * band shows something the line does not.
 */
export function seriesFromBuckets(buckets, { id, label, color }) {
  const x = [], y = [], min = [], max = [], stepStart = [], stepEnd = [];
  let banded = false;
  const n = buckets ? buckets.count.length : 0;
  for (let i = 0; i < n; i++) {
    const xs = number(buckets.x_start[i]);
    const xe = number(buckets.x_end[i]);
    if (xs === null && xe === null) continue; // no x value in this bucket (e.g. x = epoch)
    const xv = xs === null ? xe : xe === null ? xs : (xs + xe) / 2;
    if (x.length && xv <= x[x.length - 1]) continue; // x must increase for a line
    x.push(xv);
    const count = buckets.count[i];
    y.push(count === 1 ? number(buckets.last[i]) ?? number(buckets.mean[i]) : number(buckets.mean[i]));
    min.push(number(buckets.min[i]));
    max.push(number(buckets.max[i]));
    stepStart.push(buckets.step_start[i]);
    stepEnd.push(buckets.step_end[i]);
    if (count > 1) banded = true;
  }
  return { id, label, color, x, y, min, max, stepStart, stepEnd, banded };
}

/**
 * A grouped line from GET …/history/grouped (one group's series of one key): x as in
 * seriesFromBuckets, y the mean over the group's runs, and the band mean ± std
 * (`band: "std"`) or the exact min–max of every point of the group (`band: "minmax"`).
 */
export function groupSeries(buckets, { id, label, color, band = "std" }) {
  const x = [], y = [], min = [], max = [], stepStart = [], stepEnd = [];
  const n = buckets ? buckets.mean.length : 0;
  for (let i = 0; i < n; i++) {
    const xs = number(buckets.x_start[i]);
    const xe = number(buckets.x_end[i]);
    if (xs === null && xe === null) continue;
    const xv = xs === null ? xe : xe === null ? xs : (xs + xe) / 2;
    if (x.length && xv <= x[x.length - 1]) continue;
    const mean = number(buckets.mean[i]);
    x.push(xv);
    y.push(mean);
    if (band === "minmax") {
      min.push(number(buckets.min[i]));
      max.push(number(buckets.max[i]));
    } else {
      const std = number(buckets.std[i]);
      min.push(mean === null || std === null ? null : mean - std);
      max.push(mean === null || std === null ? null : mean + std);
    }
    stepStart.push(buckets.step_start[i]);
    stepEnd.push(buckets.step_end[i]);
  }
  return { id, label, color, x, y, min, max, stepStart, stepEnd, banded: true, group: true };
}

/** The step range [first, last] a series spends between x values lo and hi (for re-querying
 * a zoomed x range that is not the step, e.g. wall time or epoch). */
export function stepRangeFor(seriesList, lo, hi) {
  let first = Infinity, last = -Infinity;
  for (const s of seriesList) {
    for (let i = 0; i < s.x.length; i++) {
      if (s.x[i] < lo || s.x[i] > hi || s.stepStart[i] === undefined) continue;
      first = Math.min(first, s.stepStart[i]);
      last = Math.max(last, s.stepEnd[i]);
    }
  }
  return Number.isFinite(first) ? [first, last] : null;
}
