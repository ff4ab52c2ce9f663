// The notification bell in the top bar (templates/base.html): the unread count, kept live
// over /ws/notifications, and a short-lived toast when a notification arrives.

const bell = document.querySelector("[data-bell]");

if (bell) {
  const badge = bell.querySelector("[data-bell-count]");
  const toasts = document.querySelector("[data-toasts]");
  let unread = 0;
  const seen = new Set();

  function show(count) {
    unread = count;
    badge.textContent = count > 99 ? "99+" : String(count);
    badge.hidden = count === 0;
    bell.setAttribute("aria-label", count ? `Notifications, ${count} unread` : "Notifications");
  }

  async function load() {
    const response = await fetch("/api/v1/notifications?limit=1", { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (response.ok) show((await response.json()).unread);
  }

  function toast(note) {
    if (!toasts) return;
    const item = document.createElement("a");
    item.className = "toast";
    item.href = note.url || "/notifications";
    item.dataset.testid = "notification-toast";
    item.textContent = note.title;
    toasts.append(item);
    setTimeout(() => item.remove(), 8000);
  }

  let delay = 1000;
  function connect() {
    const scheme = window.location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${window.location.host}/ws/notifications`);
    socket.addEventListener("open", () => {
      delay = 1000;
      bell.dataset.live = "on";
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type !== "notification" || seen.has(message.notification.id)) return;
      seen.add(message.notification.id);
      if (!message.notification.read) show(unread + 1);
      toast(message.notification);
    });
    socket.addEventListener("close", (event) => {
      bell.dataset.live = "off";
      if (event.code === 4401) return;
      setTimeout(() => {
        load().catch(() => {});
        connect();
      }, delay);
      delay = Math.min(delay * 2, 30000);
    });
  }

  load().catch(() => {});
  connect();
}
