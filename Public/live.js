// Live pages: keeps the users list (its first page) and a user's page up to date as this
// region's database replays changes, from the server-sent events of /users/live and
// /users/{id}/live. No framework, no inline script (the CSP allows only 'self'); text goes
// in with textContent, never as HTML. Without JavaScript the pages are the same, unchanging.
(() => {
  "use strict";

  const list = document.querySelector("[data-live-list]");
  const single = document.querySelector("[data-live-user]");
  const root = list || single;
  if (!root || !("EventSource" in window)) return;

  const badge = document.querySelector("[data-live-status]");
  const note = root.querySelector("[data-live-note]");
  const pageSize = Number(root.dataset.pageSize || 20);
  let lastId = root.dataset.liveSince || "";
  let source = null;
  let retry = null;
  // A tab hidden this long lets go of its stream (an open stream keeps the region's machine
  // running on Fly); shown again, it reconnects from the last event and catches up.
  const HIDDEN_GRACE_MS = 60000;
  let hiddenTimer = null;

  function streamURL() {
    return lastId ? `${root.dataset.liveUrl}?since=${encodeURIComponent(lastId)}` : root.dataset.liveUrl;
  }

  function status(state, text) {
    if (!badge) return;
    badge.hidden = false;
    badge.dataset.state = state;
    badge.querySelector("[data-live-text]").textContent = text;
  }

  // "written in nrt, here after 83 ms", from the event's own figures.
  function tell(change, region) {
    if (!note) return;
    const verb = { insert: "created", update: "updated", delete: "deleted" }[change.kind];
    const from = change.writtenIn ? ` in ${change.writtenIn}` : "";
    note.textContent = `User ${change.id} ${verb}${from}, here in ${region} after ${change.delayMs} ms`;
    note.dataset.kind = change.kind;
    note.dataset.delayMs = String(change.delayMs);
    note.dataset.userId = String(change.id);
    note.hidden = false;
  }

  function highlight(element) {
    element.classList.remove("live-changed");
    void element.offsetWidth; // restart the animation
    element.classList.add("live-changed");
  }

  // Fills an element's [data-field], [data-href] and [data-action] parts from a user.
  function fill(element, user) {
    for (const field of element.querySelectorAll("[data-field]")) {
      const value = user[field.dataset.field];
      if (value === undefined) continue;
      if (field.tagName === "INPUT") field.value = String(value);
      else if (field.tagName === "TIME" && field.dataset.field === "updatedAt") {
        field.dateTime = user.updatedAt;
        field.textContent = user.updatedAtText;
      } else field.textContent = String(value);
    }
    for (const link of element.querySelectorAll("[data-href]")) link.href = link.dataset.href.replace("{id}", user.id);
    for (const form of element.querySelectorAll("[data-action]")) form.action = form.dataset.action.replace("{id}", user.id);
  }

  function applyToList(change, region) {
    const body = list.querySelector("table.users tbody");
    if (!body) {
      // The empty list has no table to add to: read the page afresh.
      if (change.kind === "insert") location.reload();
      return;
    }
    let row = body.querySelector(`tr[data-user-id="${change.id}"]`);
    if (change.kind === "delete" || !change.user) {
      if (!row) return;
      row.classList.add("live-removed");
      setTimeout(() => row.remove(), 600);
    } else if (row) {
      fill(row, change.user);
      highlight(row);
    } else {
      // Newest first: a user newer than the top row goes on top; an older one is not on this page.
      const top = body.querySelector("tr[data-user-id]");
      if (top && Number(top.dataset.userId) > change.id) return;
      const template = list.querySelector("template[data-live-row]");
      row = template.content.firstElementChild.cloneNode(true);
      row.dataset.userId = String(change.id);
      fill(row, change.user);
      body.prepend(row);
      highlight(row);
      const rows = body.querySelectorAll("tr[data-user-id]");
      if (rows.length > pageSize) rows[rows.length - 1].remove();
    }
    tell(change, region);
  }

  function applyToUser(change, region) {
    if (String(change.id) !== single.dataset.userId) return;
    if (change.kind === "delete" || !change.user) {
      single.classList.add("live-removed");
    } else {
      fill(single, change.user);
      document.title = `${change.user.name} · Users`;
      highlight(single);
    }
    tell(change, region);
  }

  function disconnect() {
    if (source) source.close();
    source = null;
    clearTimeout(retry);
  }

  function connect() {
    disconnect();
    const stream = new EventSource(streamURL());
    source = stream;
    stream.addEventListener("ready", (event) => {
      const ready = JSON.parse(event.data);
      status("live", ready.source === "replica" ? `from the replica in ${ready.region}` : `from the primary (${ready.region})`);
    });
    stream.addEventListener("changes", (event) => {
      lastId = event.lastEventId || lastId;
      const batch = JSON.parse(event.data);
      for (const change of batch.changes) {
        if (list) applyToList(change, batch.region);
        else applyToUser(change, batch.region);
      }
    });
    stream.addEventListener("reload", () => {
      disconnect();
      location.reload();
    });
    stream.addEventListener("error", () => {
      if (stream !== source) return; // one we let go of
      if (stream.readyState === EventSource.CLOSED) {
        // Refused (a 503 at the instance's stream limit, or shutting down): try again later.
        status("reconnecting", "paused, retrying");
        retry = setTimeout(connect, 10000);
      } else {
        status("reconnecting", "reconnecting");
      }
    });
  }

  document.addEventListener("visibilitychange", () => {
    clearTimeout(hiddenTimer);
    if (document.hidden) {
      hiddenTimer = setTimeout(() => {
        disconnect();
        status("reconnecting", "paused while the tab is hidden");
      }, HIDDEN_GRACE_MS);
    } else if (!source) {
      connect();
    }
  });

  connect();
})();
