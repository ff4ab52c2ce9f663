// Key/value tables of the run and compare pages (config, summary): a search box
// (<input data-filter-table="<table id>">) hides rows whose key and values do not contain
// the text, and a checkbox (<input data-only-differences="<table id>">) keeps only the
// rows marked data-differs. A "no match" note after the table shows when nothing is left.

function refresh(table, root) {
  const search = root.querySelector(`[data-filter-table="${table.id}"]`);
  const only = root.querySelector(`[data-only-differences="${table.id}"]`);
  const needle = search ? search.value.trim().toLowerCase() : "";
  let shown = 0;
  for (const row of table.tBodies[0].rows) {
    const visible =
      (!only || !only.checked || row.hasAttribute("data-differs")) &&
      (!needle || row.textContent.toLowerCase().includes(needle));
    row.hidden = !visible;
    if (visible) shown += 1;
  }
  const note = table.parentElement.querySelector(".no-match");
  if (note) note.hidden = shown > 0;
}

export function bindTableFilters(root = document) {
  for (const control of root.querySelectorAll("[data-filter-table], [data-only-differences]")) {
    const id = control.dataset.filterTable || control.dataset.onlyDifferences;
    const table = root.querySelector(`#${CSS.escape(id)}`);
    if (!table) continue;
    control.addEventListener(control.type === "checkbox" ? "change" : "input", () => refresh(table, root));
  }
}
