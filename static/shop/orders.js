// Refreshes the status badge, start count, remains (a subscription's posts done) and refund of the orders on the page,
// without a reload, for as long as any of them can still change.
(function () {
  "use strict";
  const table = document.querySelector("[data-live]");
  if (!table || table.dataset.live !== "1") return;
  const url = table.dataset.statusUrl;
  const ids = [...table.querySelectorAll("[data-order]")].map((row) => row.dataset.order);
  const INTERVAL = Number(table.dataset.interval) || 10000;
  const TONES = ["good", "bad", "warn", "info", "neutral"];

  function show(row, order) {
    for (const name of ["start_count", "remains", "posts"]) {
      const cell = row.querySelector('[data-cell="' + name + '"]');
      if (cell) cell.textContent = order[name] === null ? "" : order[name];
    }
    const status = row.querySelector('[data-cell="status"]');
    if (status) {
      status.textContent = order.status;
      status.classList.remove(...TONES);
      if (TONES.includes(order.tone)) status.classList.add(order.tone);
    }
    const refunded = row.querySelector('[data-cell="refunded"]');
    if (refunded) refunded.textContent = order.refunded_shown;
    const note = row.querySelector("[data-refunded-note]");
    if (note) note.hidden = !(Number(order.refunded) > 0);
  }

  async function refresh() {
    let response;
    try {
      response = await fetch(url + "?ids=" + ids.join(","), { headers: { Accept: "application/json" }, credentials: "same-origin" });
    } catch (error) {
      return setTimeout(refresh, INTERVAL * 3);
    }
    if (!response.ok) return setTimeout(refresh, INTERVAL * 3);
    const orders = (await response.json()).orders;
    let live = false;
    for (const [id, order] of Object.entries(orders)) {
      const row = table.querySelector('[data-order="' + id + '"]');
      if (!row) continue;
      show(row, order);
      live = live || order.live;
    }
    if (live) setTimeout(refresh, INTERVAL);
  }
  setTimeout(refresh, INTERVAL);
})();
