// The API page: a Copy button for a key just made. Without this script (or where the browser
// does not let a page write to the clipboard) the button stays hidden and the key is selected
// whole with one click (.secret { user-select: all }).
(function () {
  "use strict";
  if (!navigator.clipboard || !window.isSecureContext) return;
  for (const button of document.querySelectorAll("[data-copy]")) {
    const source = document.getElementById(button.dataset.copy);
    const status = document.querySelector('[data-copy-status="' + button.dataset.copy + '"]');
    if (!source || !status) continue;
    button.hidden = false;
    button.addEventListener("click", async () => {
      status.textContent = "";
      try {
        await navigator.clipboard.writeText(source.textContent.trim());
        status.textContent = gettext("Copied");
      } catch (error) {
        status.textContent = gettext("Could not copy: select the key and copy it by hand.");
      }
    });
  }
})();
