// Live events and logs of a deployment page: catch up from GET …/events?after=<id>,
// then follow ws:deployment-events; reconnect with back-off and catch up again.
const log = document.querySelector("[data-deploy-log]");

if (log) {
  const team = log.dataset.team;
  const id = log.dataset.deployment;
  const status = document.querySelector("[data-live-status]");
  const badges = document.querySelectorAll("[data-state]");
  let last = Number(log.dataset.last || 0);
  let delay = 500;

  const time = (iso) => new Date(iso).toTimeString().slice(0, 8);

  const show = (event, state) => {
    if (event.id <= last) return;
    last = event.id;
    const line = document.createElement("span");
    line.className = `line ${event.kind} ${event.level}`;
    line.textContent = `${time(event.at)} ${event.message}`;
    const stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
    log.append(line, "\n");
    if (stick) log.scrollTop = log.scrollHeight;
    if (state) {
      for (const badge of badges) {
        badge.textContent = state;
        badge.className = `badge state-${state}`;
      }
    }
  };

  const stamp = (iso) => iso.slice(0, 19).replace("T", " ");

  // A settled attempt changes what serves: refresh the summary and the history.
  const refresh = async () => {
    const response = await fetch(`/api/v1/teams/${team}/deployments/${id}`, {
      credentials: "same-origin",
    });
    if (!response.ok) return;
    const body = await response.json();
    for (const [field, value] of [["version", body.version], ["url", body.url]]) {
      const cell = document.querySelector(`[data-field="${field}"]`);
      if (cell) cell.textContent = value || "—";
    }
    const attempt = document.querySelector("[data-attempt]");
    if (attempt) attempt.textContent = body.attempt;
    const rows = document.querySelector("[data-history-rows]");
    if (!rows) return;
    rows.replaceChildren(
      ...body.history.map((h) => {
        const tr = document.createElement("tr");
        tr.dataset.history = h.version;
        const cells = [h.version, stamp(h.started_at), h.ended_at ? stamp(h.ended_at) : "serving"];
        cells.forEach((text, i) => {
          const td = document.createElement("td");
          td.textContent = text;
          if (i === 0) td.className = "mono";
          tr.append(td);
        });
        return tr;
      }),
    );
    rows.closest("table").hidden = body.history.length === 0;
    document.querySelector("[data-history-empty]")?.remove();
  };

  const catchUp = async () => {
    const url = `/api/v1/teams/${team}/deployments/${id}/events?after=${last}`;
    const response = await fetch(url, { credentials: "same-origin" });
    if (!response.ok) return;
    const body = await response.json();
    for (const event of body.events) show(event, null);
    for (const badge of badges) {
      badge.textContent = body.state;
      badge.className = `badge state-${body.state}`;
    }
  };

  const connect = () => {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/ws/teams/${team}/deployments/${id}`);
    socket.addEventListener("open", () => {
      delay = 500;
      status.textContent = "live";
      catchUp();
    });
    socket.addEventListener("message", (message) => {
      const data = JSON.parse(message.data);
      if (data.type !== "event") return;
      show(data.event, data.event.state);
      const settled = ["healthy", "failed", "stopped"];
      if (data.event.kind === "state" && settled.includes(data.event.state)) refresh();
    });
    socket.addEventListener("close", () => {
      status.textContent = "reconnecting…";
      setTimeout(connect, delay);
      delay = Math.min(delay * 2, 10000);
    });
  };

  log.scrollTop = log.scrollHeight;
  connect();
}
