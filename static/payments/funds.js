// The add funds form: the fee, bonus and what reaches the balance for the
// amount typed, as quotes.topup_quote computes them (fee and bonus each the
// amount x percent / 100, rounded half-up to cents; the bonus only from its
// threshold), in whole cents so no float rounds them. The server recomputes
// the quote when the form is sent, and its figures are the ones that count.
(function () {
  "use strict";
  const form = document.getElementById("funds-form");
  if (!form) return;
  const methods = JSON.parse(document.getElementById("methods-data").textContent);
  const amountInput = form.elements.namedItem("amount");
  const reference = form.querySelector('[data-field="reference"]');
  const note = document.getElementById("quote-note");
  const out = {
    fee: document.getElementById("quote-fee"),
    bonus: document.getElementById("quote-bonus"),
    credited: document.getElementById("quote-credited"),
  };

  // "12.5" with places 4 -> 125000n (the decimal point moved right by places; extra digits dropped).
  function scaled(text, places) {
    const [whole, fraction = ""] = String(text).split(".");
    return BigInt(whole + (fraction + "0".repeat(places)).slice(0, places));
  }

  function halfUp(numerator, denominator) {
    return (numerator * 2n + denominator) / (2n * denominator);
  }

  // Amounts as the page's language writes them (English "21.50", Spanish "21,50"); the decimal text is passed
  // as a string, so no float rounds it. No grouping, as before.
  const figures = new Intl.NumberFormat(document.documentElement.lang, { minimumFractionDigits: 2, maximumFractionDigits: 2, useGrouping: false });

  function money(cents) {
    const text = cents.toString().padStart(3, "0");
    return figures.format(text.slice(0, -2) + "." + text.slice(-2));
  }

  function chosen() {
    const radio = form.querySelector('input[name="method"]:checked');
    return radio ? methods.find((method) => String(method.id) === radio.value) : undefined;
  }

  // In a language that writes a decimal comma, "25,50" is read as 25.50 (as the form reads it: shop/payments/forms.py).
  function decimalPoint(text) {
    return get_format("DECIMAL_SEPARATOR") === "," && /^[0-9]+,[0-9]+$/.test(text) ? text.replace(",", ".") : text;
  }

  // The quote in cents, or a sentence saying why there is none.
  function quote(method, text) {
    text = decimalPoint(text.trim());
    if (text === "") return "";
    if (!/^[0-9]{1,12}(\.[0-9]+)?$/.test(text)) return gettext("Enter an amount such as 25 or 25.50.");
    if (/\.[0-9]{3,}$/.test(text)) return gettext("Enter an amount with at most 2 decimal places, such as 25.50.");
    const cents = scaled(text, 2);
    const tenThousandths = cents * 100n;
    if (tenThousandths < scaled(method.min, 4)) return interpolate(gettext("The minimum for this method is %(amount)s %(currency)s."), { amount: money(halfUp(scaled(method.min, 4), 100n)), currency: method.currency }, true);
    if (tenThousandths > scaled(method.max, 4)) return interpolate(gettext("The maximum for this method is %(amount)s %(currency)s."), { amount: money(halfUp(scaled(method.max, 4), 100n)), currency: method.currency }, true);
    const fee = halfUp(cents * scaled(method.fee_percent, 2), 10000n);
    const bonusPercent = scaled(method.bonus_percent, 2);
    const bonus = bonusPercent > 0n && tenThousandths >= scaled(method.bonus_threshold, 4) ? halfUp(cents * bonusPercent, 10000n) : 0n;
    return { fee, bonus, credited: cents - fee + bonus };
  }

  function update() {
    const method = chosen();
    if (reference) reference.hidden = !(method && method.manual);
    const result = method ? quote(method, amountInput.value) : "";
    const ok = typeof result === "object";
    for (const name of ["fee", "bonus", "credited"]) {
      out[name].value = ok ? money(result[name]) : "—";
      out[name].textContent = out[name].value;
    }
    note.textContent = ok ? "" : result;
    note.hidden = ok || result === "";
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
  form.addEventListener("submit", () => {
    const button = form.querySelector("button[type=submit]");
    if (button) setTimeout(() => { button.disabled = true; }, 0);
  });
  update();
})();
