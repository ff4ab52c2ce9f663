// The comments panel (templates/comments/panel.html): threads, Markdown (rendered and
// sanitized by the server), edit/delete of one's own, @mention autocomplete, and live
// arrival over a WebSocket that carries ids only (each comment is read through the API
// with this user's rights). docs/collaboration.md describes the API.

import { readPageData } from "./api.js";

const config = readPageData("comments-config");
const root = document.getElementById("comments");

if (config && root) {
  const list = root.querySelector("[data-comment-list]");
  const empty = root.querySelector("[data-comment-empty]");
  const counter = root.querySelector("[data-comment-count]");
  const form = root.querySelector("[data-comment-form]");
  const comments = new Map(); // id -> comment

  async function call(method, url, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET") headers["X-CSRFToken"] = config.csrf;
    const response = await fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error((data && data.error && data.error.message) || `HTTP ${response.status}`);
      error.status = response.status;
      throw error;
    }
    return data;
  }

  const when = (iso) => new Date(iso).toLocaleString();

  function render() {
    list.replaceChildren();
    const top = [...comments.values()].filter((c) => !c.parent);
    top.sort((a, b) => a.id - b.id);
    let live = 0;
    for (const comment of top) {
      const item = renderComment(comment);
      const replies = [...comments.values()].filter((c) => c.parent === comment.id).sort((a, b) => a.id - b.id);
      if (replies.length) {
        const thread = document.createElement("ol");
        thread.className = "comment-replies";
        for (const reply of replies) thread.append(renderComment(reply));
        item.append(thread);
      }
      list.append(item);
    }
    for (const c of comments.values()) if (!c.deleted) live += 1;
    counter.textContent = live ? String(live) : "";
    if (empty) empty.hidden = comments.size > 0;
  }

  function renderComment(comment) {
    const item = document.createElement("li");
    item.className = "comment";
    item.id = `comment-${comment.id}`;
    item.dataset.comment = String(comment.id);
    const head = document.createElement("div");
    head.className = "comment-head";
    const who = document.createElement("strong");
    who.textContent = comment.author ? comment.author.name : "deleted user";
    const time = document.createElement("time");
    time.dateTime = comment.created_at;
    time.textContent = when(comment.created_at);
    time.className = "muted";
    head.append(who, " ", time);
    if (comment.edited_at) head.append(" ", Object.assign(document.createElement("small"), { className: "muted", textContent: "(edited)" }));
    item.append(head);
    const body = document.createElement("div");
    body.className = "comment-body";
    if (comment.deleted) {
      body.classList.add("muted");
      body.textContent = "This comment was deleted.";
    } else {
      body.innerHTML = comment.html; // sanitized by the server (nh3 allow-list)
    }
    item.append(body);
    if (!comment.deleted) item.append(actions(comment));
    return item;
  }

  function button(label, handler) {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "link-like small";
    b.textContent = label;
    b.addEventListener("click", handler);
    return b;
  }

  function actions(comment) {
    const bar = document.createElement("div");
    bar.className = "comment-actions";
    if (config.can_comment && !comment.parent) bar.append(button("Reply", () => openEditor(bar, { parent: comment.id })));
    if (comment.can_edit) {
      bar.append(button("Edit", () => openEditor(bar, { edit: comment })));
      bar.append(
        button("Delete", async () => {
          if (!window.confirm("Delete this comment?")) return;
          await call("DELETE", `${config.api}/${comment.id}`);
          await refresh(comment.id);
        }),
      );
    }
    return bar;
  }

  function openEditor(bar, { parent, edit }) {
    if (bar.querySelector("form")) return;
    const f = document.createElement("form");
    f.className = "comment-form inline";
    const wrap = document.createElement("div");
    wrap.className = "mention-anchor";
    const area = document.createElement("textarea");
    area.rows = 2;
    area.value = edit ? edit.body : "";
    area.setAttribute("aria-label", edit ? "Edit comment" : "Reply");
    const suggestions = document.createElement("ul");
    suggestions.className = "mention-suggestions";
    suggestions.hidden = true;
    wrap.append(area, suggestions);
    const error = Object.assign(document.createElement("p"), { className: "errorlist", hidden: true });
    const save = Object.assign(document.createElement("button"), { type: "submit", textContent: edit ? "Save" : "Reply" });
    const cancel = button("Cancel", () => f.remove());
    f.append(wrap, error, save, cancel);
    bar.append(f);
    attachMentions(area, suggestions);
    area.focus();
    f.addEventListener("submit", async (event) => {
      event.preventDefault();
      try {
        const saved = edit
          ? await call("PATCH", `${config.api}/${edit.id}`, { body: area.value })
          : await call("POST", config.api, { body: area.value, parent });
        comments.set(saved.id, saved);
        render();
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      }
    });
  }

  // --- @mentions ------------------------------------------------------------------
  function attachMentions(area, suggestions) {
    let token = null;
    let active = 0;
    let items = [];
    const close = () => {
      suggestions.hidden = true;
      suggestions.replaceChildren();
      items = [];
    };
    const choose = (member) => {
      const before = area.value.slice(0, token.start);
      const after = area.value.slice(area.selectionStart);
      area.value = `${before}@${member.handle} ${after}`;
      const caret = before.length + member.handle.length + 2;
      area.setSelectionRange(caret, caret);
      close();
      area.focus();
    };
    area.addEventListener("input", async () => {
      const upto = area.value.slice(0, area.selectionStart);
      const match = /(^|[^\w@.])@([\w.+-]*)$/.exec(upto);
      if (!match) return close();
      token = { start: upto.length - match[2].length - 1, prefix: match[2] };
      const params = new URLSearchParams({ prefix: token.prefix });
      if (config.project) params.set("project", config.project);
      const data = await call("GET", `${config.mentionable}?${params}`).catch(() => null);
      if (!data || !data.members.length) return close();
      items = data.members;
      active = 0;
      suggestions.replaceChildren(
        ...items.map((member, i) => {
          const li = document.createElement("li");
          li.role = "option";
          li.dataset.handle = member.handle;
          li.textContent = `@${member.handle}`;
          const name = Object.assign(document.createElement("small"), { className: "muted", textContent: ` ${member.name}` });
          li.append(name);
          li.setAttribute("aria-selected", String(i === active));
          li.addEventListener("mousedown", (event) => {
            event.preventDefault();
            choose(member);
          });
          return li;
        }),
      );
      suggestions.hidden = false;
    });
    area.addEventListener("keydown", (event) => {
      if (suggestions.hidden || !items.length) return;
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        event.preventDefault();
        active = (active + (event.key === "ArrowDown" ? 1 : items.length - 1)) % items.length;
        [...suggestions.children].forEach((li, i) => li.setAttribute("aria-selected", String(i === active)));
      } else if (event.key === "Enter" || event.key === "Tab") {
        event.preventDefault();
        choose(items[active]);
      } else if (event.key === "Escape") {
        close();
      }
    });
    area.addEventListener("blur", () => setTimeout(close, 150));
  }

  // --- loading and live updates -----------------------------------------------------
  async function load() {
    const data = await call("GET", config.api);
    comments.clear();
    for (const c of data.comments) comments.set(c.id, c);
    render();
  }

  async function refresh(id) {
    try {
      comments.set(id, await call("GET", `${config.api}/${id}`));
    } catch (err) {
      if (err.status !== 404) throw err;
      const known = comments.get(id);
      const hasReplies = [...comments.values()].some((c) => c.parent === id);
      if (known && hasReplies) comments.set(id, { ...known, deleted: true, html: "", body: "", can_edit: false });
      else comments.delete(id);
    }
    render();
  }

  let delay = 1000;
  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}${config.ws}`);
    socket.addEventListener("open", () => {
      delay = 1000;
      root.dataset.live = "on";
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.comment) refresh(message.comment);
    });
    socket.addEventListener("close", (event) => {
      root.dataset.live = "off";
      if (event.code === 4401 || event.code === 4403 || event.code === 4404) return;
      setTimeout(() => {
        load().catch(() => {});
        connect();
      }, delay);
      delay = Math.min(delay * 2, 30000);
    });
  }

  if (form) {
    const area = form.querySelector("textarea");
    const error = form.querySelector("[data-comment-error]");
    attachMentions(area, form.querySelector("[data-mention-list]"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      error.hidden = true;
      try {
        const saved = await call("POST", config.api, { body: area.value });
        comments.set(saved.id, saved);
        area.value = "";
        render();
      } catch (err) {
        error.textContent = err.message;
        error.hidden = false;
      }
    });
  }

  load().catch(() => {});
  connect();
}
