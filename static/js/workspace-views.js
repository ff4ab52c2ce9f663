// Saved views of the workspace (…/projects/<p>/views, shared with the team): create,
// rename, switch, set as default, delete, and "reset to automatic". A view stores the
// store's view state (table columns, filters, order, grouping, chart settings, panels).

import { defaultViewState } from "./store.js";

export function createViews({ api, store, page, elements, onApply }) {
  const { select, save, rename, setDefault, remove, reset, status } = elements;
  let views = [];
  let current = null;

  function say(text) { status.textContent = text; }

  function listFrom(answer) {
    return (answer && (answer.views || answer.results)) || [];
  }
  const stateOf = (v) => v.state || v.layout || v.spec || {};

  function paint() {
    select.replaceChildren(new Option("Automatic", ""));
    for (const v of views) {
      const option = new Option(`${v.name}${v.is_default ? " (default)" : ""}`, String(v.id));
      select.append(option);
    }
    select.value = current ? String(current.id) : "";
    const editable = page.can_save_views;
    save.hidden = !editable;
    rename.hidden = !editable || !current;
    setDefault.hidden = !editable || !current || current.is_default;
    remove.hidden = !editable || !current;
  }

  function apply(v) {
    current = v;
    const state = v ? { ...defaultViewState(), ...stateOf(v) } : defaultViewState();
    store.set({ view: state, hidden: new Set(state.hiddenRuns || []) });
    const url = new URL(window.location.href);
    if (v) url.searchParams.set("view", v.id);
    else url.searchParams.delete("view");
    window.history.replaceState(null, "", url);
    paint();
    onApply();
  }

  async function refresh() {
    try {
      views = listFrom(await api.get("/views"));
    } catch (exc) {
      views = [];
      say(exc.status === 404 ? "" : `Views: ${exc.message}`);
    }
  }

  /** Load the list and apply ?view=<id>, else the team's default view, else automatic. */
  async function start() {
    await refresh();
    const wanted = new URL(window.location.href).searchParams.get("view");
    const chosen = views.find((v) => String(v.id) === wanted) || views.find((v) => v.is_default) || null;
    if (chosen) apply(chosen);
    else { paint(); onApply(); }
  }

  function snapshot() {
    const state = store.get();
    return { ...state.view, hiddenRuns: [...state.hidden] };
  }

  select.addEventListener("change", () => {
    apply(views.find((v) => String(v.id) === select.value) || null);
  });

  save.addEventListener("click", async () => {
    const name = window.prompt("Save the workspace as a view named:", current ? current.name : "");
    if (!name || !name.trim()) return;
    try {
      const existing = views.find((v) => v.name === name.trim());
      const saved = existing
        ? await api.patch(`/views/${existing.id}`, { spec: snapshot() })
        : await api.post("/views", { name: name.trim(), spec: snapshot() });
      await refresh();
      current = views.find((v) => String(v.id) === String(saved.id)) || saved;
      apply(current);
      say(`Saved view ${current.name}.`);
    } catch (exc) {
      say(`Could not save: ${exc.message}`);
    }
  });

  rename.addEventListener("click", async () => {
    if (!current) return;
    const name = window.prompt("Rename the view to:", current.name);
    if (!name || !name.trim() || name.trim() === current.name) return;
    try {
      await api.patch(`/views/${current.id}`, { name: name.trim() });
      await refresh();
      current = views.find((v) => v.id === current.id) || null;
      paint();
      say("View renamed.");
    } catch (exc) {
      say(`Could not rename: ${exc.message}`);
    }
  });

  setDefault.addEventListener("click", async () => {
    if (!current) return;
    try {
      await api.patch(`/views/${current.id}`, { is_default: true });
      await refresh();
      current = views.find((v) => v.id === current.id) || null;
      paint();
      say("Set as the project's default view.");
    } catch (exc) {
      say(`Could not set the default: ${exc.message}`);
    }
  });

  remove.addEventListener("click", async () => {
    if (!current || !window.confirm(`Delete the view ${current.name} for everyone in the team?`)) return;
    try {
      await api.delete(`/views/${current.id}`);
      await refresh();
      apply(null);
      say("View deleted.");
    } catch (exc) {
      say(`Could not delete: ${exc.message}`);
    }
  });

  reset.addEventListener("click", () => { apply(null); say("Automatic view."); });

  return { start, get current() { return current; } };
}
