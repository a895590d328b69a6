// The new-order form, on top of a page that works without it:
// - a search across every category as the customer types (services-json?q=); choosing a match selects its category and service;
// - the chosen service's facts (its description as text, price, min and max, refill, cancel, drip-feed) and its type's fields;
// - the charge as the server computes it (rate per 1000 at 6 places x quantity / 1000, rounded half-up to 4 places,
//   at least 0.0001; a package costs its rate; drip-feed charges quantity x runs; a subscription reserves max x (posts +
//   old posts) and says the unused part comes back), in whole numbers so no float rounds it;
// - the server's checks as the customer types, with the server's rules and sentences (#order-config): min and max,
//   the link, and the balance;
// - one order per click: Place order turns into "Placing…" and is disabled (the form's one-time token is the guarantee).
// Figures are written as the server's shop_format filters write them: money with at least 2 places, rates without
// trailing zeros, thousands grouped, in the page's language (Intl.NumberFormat: "1,250.50" in English).
// Sentences come from Django's JavaScript catalogue (gettext, ngettext, pgettext, interpolate), loaded by base.html first.
(function () {
  "use strict";
  const form = document.getElementById("order-form");
  if (!form) return;
  const config = JSON.parse(document.getElementById("order-config").textContent);
  const balanceText = JSON.parse(document.getElementById("order-balance").textContent);
  const linkPattern = new RegExp(config.link_pattern, "i");
  const controlPattern = new RegExp(config.control_pattern);
  const findForm = document.getElementById("category-form");
  const servicesUrl = findForm.dataset.servicesUrl;
  const categorySelect = document.getElementById("category");
  const serviceSelect = document.getElementById("service");
  const searchInput = document.getElementById("service-search");
  const searchStatus = document.getElementById("search-status");
  const searchResults = document.getElementById("search-results");
  const info = document.getElementById("service-info");
  const output = document.getElementById("charge");
  const totalLine = document.getElementById("dripfeed-total");
  const balanceCheck = document.getElementById("balance-check");
  const button = document.getElementById("place-order");
  const buttonLabel = button.textContent;
  const typeFields = ["comments", "usernames", "hashtags", "hashtag", "username", "media", "answer_number", "groups", "keywords",
    "min", "max", "posts", "old_posts", "delay", "expiry"];
  const chargeLabel = document.getElementById("charge-label");
  const reserveNote = document.getElementById("reserve-note");
  let services = JSON.parse(document.getElementById("services-data").textContent);
  let linkTouched = false;
  let placing = false;

  const field = (name) => form.querySelector('[data-field="' + name + '"]');
  const input = (name) => form.elements.namedItem(name);
  const current = () => services.find((s) => String(s.id) === serviceSelect.value);
  const dripFeeds = (service) => service.dripfeed_orderable; // the offer's rule (ServiceOffer.dripfeed_orderable)

  // Figures -----------------------------------------------------------------------------------------------------------
  // Written as the server writes them (shop_format): the language's separators from Django's catalogue (get_format), the
  // whole part grouped in threes as text and the fraction's digits as the server sent them, so no float rounds a figure.
  const decimalMark = get_format("DECIMAL_SEPARATOR");
  const thousands = get_format("THOUSAND_SEPARATOR");

  function grouped(whole) {
    return String(whole).replace(/\B(?=(\d{3})+(?!\d))/g, thousands);
  }

  function decimalText(text, least) {
    let [whole, fraction = ""] = String(text).split(".");
    const sign = whole.startsWith("-") ? "-" : "";
    whole = whole.replace("-", "");
    fraction = fraction.replace(/0+$/, "").padEnd(least, "0");
    return sign + grouped(whole) + (fraction ? decimalMark + fraction : "");
  }

  const money = (text) => decimalText(text, 2);
  const rate = (text) => decimalText(text, 0);

  function pricePer(service) {
    if (service.package) return money(service.rate) + " " + config.currency;
    return interpolate(gettext("%(rate)s %(currency)s per 1000"), { rate: rate(service.rate), currency: config.currency }, true)
      .replace("  ", " ")
      .trim();
  }

  function units(text, places) {
    const [whole, fraction = ""] = String(text).split(".");
    const value = BigInt(whole.replace("-", "") + (fraction + "0".repeat(places)).slice(0, places));
    return whole.startsWith("-") ? -value : value;
  }

  function halfUp(numerator, denominator) {
    return (numerator * 2n + denominator) / (2n * denominator);
  }

  function lines(text) {
    return text.split(/\r\n|\n|\r/).filter((line) => line.trim() !== "").length;
  }

  function wholeNumber(text) {
    return /^\s*[+-]?\d{1,18}\s*$/.test(text) ? BigInt(text.trim()) : null;
  }

  function say(code, figures) {
    return config.wording[code].replace(/\{(\w+)\}/g, (_, name) => figures[name]);
  }

  // The charge ----------------------------------------------------------------------------------------------------------
  function quantityOf(service) {
    if (service.package) return 1n;
    if (service.quantity_from) return BigInt(lines(input(service.quantity_from).value));
    return wholeNumber(input("quantity").value);
  }

  function runsOf(service) {
    if (!dripFeeds(service) || !input("dripfeed").checked) return 1n;
    const runs = wholeNumber(input("runs").value);
    return runs === null || runs < 2n ? null : runs;
  }

  // A subscription reserves its most: max on every post (new and old), priced like any order.
  function reservedQuantity() {
    const most = wholeNumber(input("max").value);
    const posts = wholeNumber(input("posts").value);
    const old = input("old_posts").value.trim() ? wholeNumber(input("old_posts").value) : 0n;
    if (most === null || posts === null || old === null || posts < 1n || old < 0n) return null;
    return most * (posts + old);
  }

  function chargeUnits(service) {
    const perThousand = units(service.rate, 6);
    if (service.package) return atLeastOne(halfUp(perThousand, 100n));
    if (service.subscription) {
      const reserved = reservedQuantity();
      return reserved === null || reserved <= 0n ? null : atLeastOne(halfUp(perThousand * reserved, 100000n));
    }
    const quantity = quantityOf(service);
    const runs = runsOf(service);
    if (quantity === null || quantity <= 0n || runs === null) return null;
    return atLeastOne(halfUp(perThousand * quantity * runs, 100000n));
  }

  function atLeastOne(value) {
    return value < 1n ? 1n : value;
  }

  function fourPlaces(value) {
    const text = value.toString().padStart(5, "0");
    return text.slice(0, -4) + "." + text.slice(-4);
  }

  function updateTotal(service) {
    const quantity = service && !service.package && !service.quantity_from ? quantityOf(service) : null;
    const runs = service ? runsOf(service) : null;
    const shown = service && dripFeeds(service) && input("dripfeed").checked && quantity !== null && quantity > 0n && runs !== null;
    totalLine.hidden = !shown;
    if (!shown) return;
    document.getElementById("total").value = grouped(quantity * runs);
    document.getElementById("total-parts").textContent = interpolate(
      ngettext("(%(quantity)s × %(runs)s run)", "(%(quantity)s × %(runs)s runs)", Number(runs)),
      { quantity: grouped(quantity), runs: String(runs) },
      true,
    );
  }

  function updateCharge() {
    const service = current();
    const charge = service ? chargeUnits(service) : null;
    output.value = charge === null ? "—" : money(fourPlaces(charge));
    updateTotal(service);
    const short = charge !== null && balanceText !== null && charge > units(balanceText, 4);
    balanceCheck.hidden = !short;
    document.getElementById("balance-text").textContent = short
      ? say("short_of_funds", { charge: money(fourPlaces(charge)), balance: money(balanceText) })
      : "";
  }

  // Checks as the customer types, next to their fields -----------------------------------------------------------------
  function showProblem(name, message) {
    const wrapper = field(name);
    const box = input(name);
    let hint = wrapper.querySelector(".error.live");
    if (!hint) {
      hint = document.createElement("div");
      hint.className = "error live";
      hint.id = "hint-" + name;
      wrapper.append(hint);
    }
    // What the server said about this field is out of date once the customer changes it.
    wrapper.querySelectorAll(".error:not(.live)").forEach((stale) => stale.remove());
    hint.textContent = message;
    hint.hidden = !message;
    if (message) {
      box.setAttribute("aria-invalid", "true");
      box.setAttribute("aria-describedby", hint.id);
    } else {
      box.removeAttribute("aria-invalid");
      box.removeAttribute("aria-describedby");
    }
  }

  function quantityProblem(service) {
    if (!service || service.package || service.subscription) return "";
    let count;
    if (service.quantity_from) {
      count = BigInt(lines(input(service.quantity_from).value));
      if (count === 0n) return "";
    } else {
      const text = input("quantity").value;
      if (!text.trim()) return "";
      count = wholeNumber(text);
      if (count === null) return gettext("Quantity must be a whole number.");
    }
    if (count < BigInt(service.min)) return say("below_min", { min: grouped(service.min) });
    if (count > BigInt(service.max)) return say("above_max", { max: grouped(service.max) });
    return "";
  }

  function checkQuantity() {
    const service = current();
    if (!service) return "";
    const name = service.quantity_from || "quantity";
    const message = quantityProblem(service);
    if (message || field(name).querySelector(".error")) showProblem(name, message);
    return message;
  }

  function linkProblem() {
    const text = input("link").value.trim();
    if (!text || current()?.needs_link === false) return "";
    const wrong = text.length > config.max_link || controlPattern.test(text) || !linkPattern.test(text);
    return wrong ? say("bad_link", {}) : "";
  }

  // While typing, a link is judged once it was left once, or at once when it cannot become one ("instagram.com/...").
  function checkLink(typing) {
    const text = input("link").value.trim().toLowerCase();
    const mayStillBecomeOne = "https://".startsWith(text) || "http://".startsWith(text) || /^https?:\/\//.test(text);
    const message = typing && !linkTouched && mayStillBecomeOne ? "" : linkProblem();
    if (message || field("link").querySelector(".error")) showProblem("link", message);
    return message;
  }

  // The chosen service -------------------------------------------------------------------------------------------------
  function renderFacts(service) {
    info.replaceChildren();
    if (!service) return;
    if (service.description) {
      const text = document.createElement("p");
      text.className = "description";
      text.textContent = service.description;
      info.append(text);
    }
    const badges = [
      [pgettext("service feature", "Refill"), service.refill],
      [pgettext("service feature", "Cancel"), service.cancel],
      [pgettext("service feature", "Drip-feed"), dripFeeds(service)],
    ].filter(([, offered]) => offered);
    if (badges.length) {
      const line = document.createElement("p");
      line.className = "service-badges";
      badges.forEach(([label]) => {
        const badge = document.createElement("span");
        badge.className = "badge info";
        badge.textContent = label;
        line.append(badge, " ");
      });
      info.append(line);
    }
    const facts = document.createElement("dl");
    const fact = (term, value) => {
      const row = document.createElement("div");
      const name = document.createElement("dt");
      const detail = document.createElement("dd");
      name.textContent = term;
      detail.textContent = value;
      row.append(name, detail);
      facts.append(row);
    };
    fact(gettext("Price"), pricePer(service));
    if (service.retail_rate !== null && service.retail_rate !== undefined) {
      const own = document.createElement("span");
      own.className = "muted small own-price";
      own.textContent = interpolate(gettext("Your price · retail %(retail)s"), { retail: pricePer({ ...service, rate: service.retail_rate }) }, true);
      facts.lastChild.lastChild.append(" ", own);
    }
    if (!service.package) {
      fact(gettext("Minimum"), grouped(service.min));
      fact(gettext("Maximum"), grouped(service.max));
    }
    const average = service.average_time || gettext("not enough data");
    fact(gettext("Average time"), average.charAt(0).toUpperCase() + average.slice(1));
    const available = (offered) => (offered ? gettext("Available") : gettext("Not available"));
    fact(pgettext("service feature", "Refill"), available(service.refill));
    fact(pgettext("service feature", "Cancel"), available(service.cancel));
    fact(pgettext("service feature", "Drip-feed"), available(dripFeeds(service)));
    info.append(facts);
  }

  // `recheck`: the customer changed the service, so the quantity typed is judged against the new min and max.
  function showFields(recheck) {
    const service = current();
    renderFacts(service);
    if (!service) return;
    field("quantity").hidden = !service.needs_quantity;
    field("link").hidden = service.needs_link === false;
    chargeLabel.textContent = service.subscription ? gettext("Reserved now:") : gettext("Charge:");
    reserveNote.hidden = !service.subscription;
    ["min", "max"].forEach((name) => {
      input(name).min = service.min;
      input(name).max = service.max;
    });
    typeFields.forEach((name) => {
      field(name).hidden = !service.fields.includes(name);
    });
    field("dripfeed").hidden = !dripFeeds(service);
    const quantityInput = input("quantity");
    quantityInput.min = service.min;
    quantityInput.max = service.max;
    if (recheck === true) checkQuantity();
    updateCharge();
  }

  function fillServices(list, keep, recheck) {
    services = list;
    serviceSelect.replaceChildren(
      ...list.map((service) => {
        const option = document.createElement("option");
        option.value = service.id;
        option.textContent = "#" + service.id + " " + service.name + " — " + pricePer(service);
        return option;
      }),
    );
    if (keep && list.some((service) => String(service.id) === String(keep))) serviceSelect.value = String(keep);
    showFields(recheck);
  }

  async function getJson(query, signal) {
    const response = await fetch(servicesUrl + "?" + new URLSearchParams(query), {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      signal,
    });
    if (!response.ok) throw new Error("services: " + response.status);
    return response.json();
  }

  async function loadCategory(categoryId, keep) {
    try {
      fillServices((await getJson({ category: categoryId })).services, keep, true);
    } catch (error) {
      searchStatus.textContent = gettext("The services could not be loaded: reload the page.");
    }
  }

  // Search across every category ---------------------------------------------------------------------------------------
  let searchTimer = null;
  let searching = null;

  function categoryName(id) {
    const option = categorySelect.querySelector('option[value="' + id + '"]');
    return option ? option.textContent : "";
  }

  function showResults(found, query) {
    searchResults.replaceChildren();
    searchResults.hidden = !found || found.services.length === 0;
    if (!found) {
      searchStatus.textContent = "";
      return;
    }
    const count = found.services.length;
    let said;
    if (count === 0) said = gettext("No service matches “%(query)s”.");
    else if (found.more)
      said = ngettext(
        "%(count)s service matches “%(query)s”: the first %(count)s are listed, add words to narrow it down.",
        "%(count)s services match “%(query)s”: the first %(count)s are listed, add words to narrow it down.",
        count,
      );
    else said = ngettext("%(count)s service matches “%(query)s”.", "%(count)s services match “%(query)s”.", count);
    searchStatus.textContent = interpolate(said, { count: count, query: query }, true);
    found.services.forEach((service) => {
      const item = document.createElement("li");
      const choice = document.createElement("button");
      choice.type = "button";
      choice.className = "search-result";
      choice.dataset.service = service.id;
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = "#" + service.id + " " + service.name;
      const where = document.createElement("span");
      where.className = "where muted small";
      where.textContent = categoryName(service.category) + " · " + pricePer(service);
      choice.append(name, where);
      choice.addEventListener("click", () => choose(service));
      item.append(choice);
      searchResults.append(item);
    });
  }

  async function choose(service) {
    categorySelect.value = String(service.category);
    await loadCategory(service.category, service.id);
    searchResults.hidden = true;
    searchStatus.textContent = interpolate(
      gettext("Chosen: #%(id)s %(name)s, in %(category)s."),
      { id: service.id, name: service.name, category: categoryName(service.category) },
      true,
    );
    serviceSelect.focus();
  }

  function search(delay) {
    clearTimeout(searchTimer);
    const query = searchInput.value.trim();
    if (searching) searching.abort();
    if (!query) {
      showResults(null, "");
      return;
    }
    searchTimer = setTimeout(async () => {
      searching = new AbortController();
      try {
        showResults(await getJson({ q: query }, searching.signal), query);
      } catch (error) {
        if (error.name !== "AbortError") searchStatus.textContent = gettext("The search did not work: try again.");
      }
    }, delay);
  }

  searchInput.addEventListener("input", () => search(250));
  searchInput.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      searchInput.value = "";
      search(0);
    }
  });
  findForm.addEventListener("submit", (event) => {
    event.preventDefault();
    if (searchInput.value.trim()) search(0);
    else loadCategory(categorySelect.value);
  });
  document.getElementById("find-services").hidden = true; // the category list answers at once, the search as one types
  categorySelect.addEventListener("change", () => loadCategory(categorySelect.value, serviceSelect.value));

  // The order form -------------------------------------------------------------------------------------------------------
  serviceSelect.addEventListener("change", () => {
    const service = current();
    if (service) categorySelect.value = String(service.category); // a search's list mixes categories
    showFields(true);
  });
  form.addEventListener("input", (event) => {
    const name = event.target.name;
    if (name === "link") checkLink(true);
    const service = current();
    if (service && (name === "quantity" || name === service.quantity_from)) checkQuantity();
    updateCharge();
  });
  form.addEventListener("change", (event) => {
    if (event.target.name === "link") {
      linkTouched = true;
      checkLink(false);
    }
    updateCharge();
  });
  form.addEventListener("submit", (event) => {
    // The same checks as the server's: the customer sees them at once instead of after a round trip.
    const problems = [checkLink(false) && input("link"), checkQuantity() && input(current()?.quantity_from || "quantity")].filter(Boolean);
    if (placing || problems.length) {
      event.preventDefault();
      if (problems.length) problems[0].focus();
      return;
    }
    placing = true;
    button.textContent = gettext("Placing…");
    button.setAttribute("aria-busy", "true");
    // Disabled after this event, so the submission under way still counts as the button's.
    setTimeout(() => {
      button.disabled = true;
    }, 0);
  });
  // Back to this page from the browser's history: the button works again (a resent form still places nothing more).
  window.addEventListener("pageshow", (event) => {
    if (!event.persisted) return;
    placing = false;
    button.disabled = false;
    button.textContent = buttonLabel;
    button.removeAttribute("aria-busy");
  });
  fillServices(services, serviceSelect.value);
  // The server says a list's count (comments, usernames) is too small or large under "quantity", which such a type hides.
  const listed = current() && current().quantity_from;
  if (listed) field("quantity").querySelectorAll(".error").forEach((message) => field(listed).append(message));
})();
