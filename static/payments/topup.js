// Keeps a top-up's page current without a reload: its state, the Pay link and
// the balance in the menu, asked for while the state can still change. The
// page only reads: a verified notification or the server's own check credits.
(function () {
  "use strict";
  const box = document.querySelector("[data-topup]");
  if (!box) return;
  const url = box.dataset.statusUrl;
  let poll = Number(box.dataset.poll) || 0;

  function show(status) {
    box.dataset.state = status.state;
    box.querySelector('[data-cell="label"]').textContent = status.label;
    box.querySelector('[data-cell="text"]').textContent = status.text;
    const pay = box.querySelector('[data-cell="pay"]');
    pay.hidden = !status.pay_url;
    if (status.pay_url) pay.querySelector("a").href = status.pay_url;
    for (const balance of document.querySelectorAll("[data-nav-balance]")) balance.textContent = status.balance_text;
    const once = document.querySelector("[data-once-paid]");
    if (once && status.state === "paid") once.hidden = true;
  }

  async function refresh() {
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    } catch (error) {
      return setTimeout(refresh, poll * 3);
    }
    let status;
    try {
      if (!response.ok) throw new Error(String(response.status));
      status = await response.json();
    } catch (error) {
      return setTimeout(refresh, poll * 3); // signed out, or an error page: try again later, more slowly
    }
    show(status);
    poll = status.poll_ms;
    if (poll > 0) setTimeout(refresh, poll);
  }
  if (poll > 0) setTimeout(refresh, poll);
})();
