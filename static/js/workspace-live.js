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

  function url() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    const target = new URL(`${scheme}//${window.location.host}${path}`);
    if (Object.keys(lastSteps).length) target.searchParams.set("since", JSON.stringify(lastSteps));
    return target.toString();
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
      if (reconnect && onReconnect) onReconnect();
    });
    socket.addEventListener("message", (message) => {
      let event;
      try {
        event = JSON.parse(message.data);
      } catch {
        return;
      }
      for (const item of event.type === "batch" && Array.isArray(event.events) ? event.events : [event]) {
        if (item.run && item.steps) {
          const seen = (lastSteps[item.run] = lastSteps[item.run] || {});
          for (const [key, step] of Object.entries(item.steps)) seen[key] = Math.max(step, seen[key] ?? step);
        }
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
