// A logged custom chart (plot.* presets and plot_table): its Vega-Lite spec over the
// chart's table, whose rows come from the server (…/media/<id>/rows) and are handed to
// Vega as the dataset named "table". Drawn with vega-embed under the CSP
// (vegaEmbedOptions: ast, no injected styles) and the app's light/dark theme.

import { loadVegaEmbed, vegaEmbedOptions } from "../vega-options.js";
import { theme } from "./vega.js";

/** The spec with the rows bound to its "table" data (the logged spec names it so). */
export function withRows(spec, rows) {
  const { data, ...rest } = spec || {};
  const out = { ...rest, datasets: { ...(spec.datasets || {}), table: rows } };
  out.data = data && !data.name ? data : { name: "table" };
  if (!out.width) out.width = "container";
  return out;
}

/** Draw `spec` over `rows` into `target`; resolves to the Vega view, throws on a bad spec. */
export async function drawChart(target, spec, rows) {
  const vegaEmbed = await loadVegaEmbed();
  const full = withRows(spec, rows);
  full.config = { ...theme(), ...(full.config || {}) };
  const result = await vegaEmbed(target, full, vegaEmbedOptions());
  return result.view;
}
