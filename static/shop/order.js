// The new-order form: services of the chosen category, the fields of the
// chosen service's type, and the charge as the server computes it (rate per
// 1000 at 6 places x quantity / 1000, rounded half-up to 4 places, at least
// 0.0001; a package costs its rate), in whole numbers so no float rounds it.
(function () {
  "use strict";
  const form = document.getElementById("order-form");
  if (!form) return;
  const categorySelect = document.getElementById("category");
  const serviceSelect = document.getElementById("service");
  const info = document.getElementById("service-info");
  const output = document.getElementById("charge");
  const typeFields = ["comments", "usernames", "hashtags", "hashtag", "username", "media", "answer_number", "groups", "keywords"];
  let services = JSON.parse(document.getElementById("services-data").textContent);

  const field = (name) => form.querySelector('[data-field="' + name + '"]');
  const input = (name) => form.elements.namedItem(name);
  const current = () => services.find((s) => String(s.id) === serviceSelect.value);

  function micros(rate) {
    const [whole, fraction = ""] = rate.split(".");
    return BigInt(whole + (fraction + "000000").slice(0, 6));
  }

  function halfUp(numerator, denominator) {
    return (numerator * 2n + denominator) / (2n * denominator);
  }

  function lines(text) {
    return text.split(/\r\n|\n|\r/).filter((line) => line.trim() !== "").length;
  }

  function wholeNumber(text) {
    return /^\s*\d{1,12}\s*$/.test(text) ? BigInt(text.trim()) : null;
  }

  function quantityOf(service) {
    if (service.package) return 1n;
    if (service.quantity_from) return BigInt(lines(input(service.quantity_from).value));
    return wholeNumber(input("quantity").value);
  }

  function chargeUnits(service) {
    const rate = micros(service.rate);
    if (service.package) return atLeastOne(halfUp(rate, 100n));
    let quantity = quantityOf(service);
    if (quantity === null || quantity <= 0n) return null;
    if (service.dripfeed && input("dripfeed").checked) {
      const runs = wholeNumber(input("runs").value);
      if (runs === null || runs < 2n) return null;
      quantity *= runs;
    }
    return atLeastOne(halfUp(rate * quantity, 100000n));
  }

  function atLeastOne(units) {
    return units < 1n ? 1n : units;
  }

  function formatUnits(units) {
    const text = units.toString().padStart(5, "0");
    return text.slice(0, -4) + "." + text.slice(-4);
  }

  function updateCharge() {
    const service = current();
    const units = service ? chargeUnits(service) : null;
    output.value = units === null ? "—" : formatUnits(units);
    output.textContent = output.value;
  }

  function showFields() {
    const service = current();
    if (!service) return;
    field("quantity").hidden = !service.needs_quantity;
    typeFields.forEach((name) => { field(name).hidden = !service.fields.includes(name); });
    field("dripfeed").hidden = !service.dripfeed;
    const quantityInput = input("quantity");
    quantityInput.min = service.min;
    quantityInput.max = service.max;
    const flags = [service.refill && "Refill", service.cancel && "Cancel", service.dripfeed && "Drip-feed"].filter(Boolean);
    info.replaceChildren();
    const text = document.createElement("p");
    text.textContent = service.description || "";
    const facts = document.createElement("p");
    facts.className = "muted small";
    facts.textContent = service.type + " · " + service.rate + " per 1000 · min " + service.min + " · max " + service.max + (flags.length ? " · " + flags.join(", ") : "");
    info.append(text, facts);
    updateCharge();
  }

  function fillServices(list, keep) {
    services = list;
    serviceSelect.replaceChildren(...list.map((service) => {
      const option = document.createElement("option");
      option.value = service.id;
      option.textContent = "#" + service.id + " " + service.name + " — " + service.rate + " per 1000";
      return option;
    }));
    if (keep) serviceSelect.value = keep;
    showFields();
  }

  categorySelect.addEventListener("change", async () => {
    const url = document.getElementById("category-form").dataset.servicesUrl + "?category=" + encodeURIComponent(categorySelect.value);
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (response.ok) fillServices((await response.json()).services);
  });
  serviceSelect.addEventListener("change", showFields);
  form.addEventListener("input", updateCharge);
  form.addEventListener("change", updateCharge);
  // A convenience against double clicks; the one-time form token is what guarantees one order per form.
  form.addEventListener("submit", () => {
    const button = form.querySelector("button[type=submit]");
    if (button) setTimeout(() => { button.disabled = true; }, 0);
  });
  fillServices(services, serviceSelect.value);
})();
