// Live updates of the workspace over the project's WebSocket
// (ws(s)://<host>/ws/teams/<team>/projects/<project>/events; docs/api.md "Live events").
// The socket only receives. On a drop it reconnects with back-off and catches up: the
// server replays what happened since the last step seen per run (when it supports it),
// and the page re-reads the table and the charts, so nothing is missed or doubled.

export function connectLive({ path, onEvent, onReconnect, statusElement }) {
  let socket = null;
  let attempts = 0;
  let closed = false;
  let everOpen = false;
  const lastSteps = {}; // run id -> {key: last step seen}

  function say(state, text) {
    if (!statusElement) return;
    statusElement.dataset.state = state;
    statusElement.textContent = text;
  }

  let lastEventAt = null; // Unix seconds of the last message, for the resume request

  function url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return `${scheme}//${window.location.host}${path}`;
  }

  // {"type": "resume", "since": {run: last step seen}, "updated_after": t}: the server
  // answers one {"type": "catchup", "runs": [...]} and then reports only newer steps.
  function resume() {
    const since = {};
    for (const [run, steps] of Object.entries(lastSteps)) since[run] = Math.max(...Object.values(steps));
    socket.send(JSON.stringify({ type: "resume", since, updated_after: lastEventAt }));
  }

  function remember(item) {
    if (!item.run || !item.steps) return;
    const seen = (lastSteps[item.run] = lastSteps[item.run] || {});
    for (const [key, value] of Object.entries(item.steps)) {
      const step = typeof value === "number" ? value : value && value.last;
      if (typeof step === "number") seen[key] = Math.max(step, seen[key] ?? step);
    }
  }

  function open() {
    if (closed) return;
    say("connecting", attempts ? "Reconnecting…" : "Connecting…");
    socket = new WebSocket(url());
    socket.addEventListener("open", () => {
      const reconnect = everOpen;
      everOpen = true;
      attempts = 0;
      say("live", "Live");
      if (reconnect) {
        resume();
        if (onReconnect) onReconnect();
      }
    });
    socket.addEventListener("message", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      if (statusElement) statusElement.dataset.messages = String(Number(statusElement.dataset.messages || 0) + 1);
      lastEventAt = Date.now() / 1000 - 5; // a margin for clock skew; doubles are harmless here
      let items = [event];
      if (event.type === "events" && Array.isArray(event.events)) items = event.events;
      else if (event.type === "catchup" && Array.isArray(event.runs)) {
        items = event.runs.map((run) => ({ type: "catchup", ...run }));
      } else if (event.type === "error") return;
      for (const item of items) {
        remember(item);
        onEvent(item);
      }
    });
    socket.addEventListener("close", (event) => {
      if (closed) return;
      // 4401/4403/4404: not allowed to watch; no point in retrying.
      if (event.code >= 4400 && event.code < 4500) {
        say("off", "Live updates unavailable");
        return;
      }
      attempts += 1;
      const delay = Math.min(30000, 500 * 2 ** Math.min(attempts, 6));
      say("connecting", "Reconnecting…");
      setTimeout(open, delay);
    });
  }

  open();
  return {
    close() { closed = true; if (socket) socket.close(); },
    get socket() { return socket; },
  };
}
