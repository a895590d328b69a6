// Loaded in <head>, before the page paints: applies the theme the visitor
// picked (light or dark; nothing stored follows the system), and marks the
// page as having JS so the phone menu can fold behind its button. Once the
// page is parsed it wires the theme switch and the menu button. Without JS
// the menu stays open under the top bar and the theme follows the system.
(function () {
  "use strict";
  var KEY = "shop-theme";
  var root = document.documentElement;

  function stored() {
    try {
      var value = window.localStorage.getItem(KEY);
      return value === "light" || value === "dark" ? value : "system";
    } catch (error) {
      return "system"; // storage blocked: follow the system
    }
  }

  function apply(choice) {
    if (choice === "light" || choice === "dark") root.setAttribute("data-theme", choice);
    else root.removeAttribute("data-theme");
  }

  function store(choice) {
    try {
      if (choice === "light" || choice === "dark") window.localStorage.setItem(KEY, choice);
      else window.localStorage.removeItem(KEY);
    } catch (error) {
      // Not kept across pages, but applied to this one.
    }
  }

  apply(stored());
  root.classList.add("js");

  function themeSwitch() {
    var box = document.querySelector("[data-theme-switch]");
    if (!box) return;
    var buttons = box.querySelectorAll("[data-theme-choice]");
    function show(current) {
      buttons.forEach(function (button) {
        button.setAttribute("aria-pressed", button.getAttribute("data-theme-choice") === current ? "true" : "false");
      });
    }
    buttons.forEach(function (button) {
      button.addEventListener("click", function () {
        var choice = button.getAttribute("data-theme-choice");
        store(choice);
        apply(choice);
        show(choice);
      });
    });
    show(stored());
    box.hidden = false;
  }

  function menu() {
    var button = document.querySelector("[data-menu-toggle]");
    var panel = button && document.getElementById(button.getAttribute("aria-controls"));
    if (!panel) return;
    function open(yes) {
      button.setAttribute("aria-expanded", yes ? "true" : "false");
      panel.classList.toggle("open", yes);
    }
    button.addEventListener("click", function () {
      open(button.getAttribute("aria-expanded") !== "true");
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && button.getAttribute("aria-expanded") === "true") {
        open(false);
        button.focus();
      }
    });
  }

  function setUp() {
    themeSwitch();
    menu();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
  // A choice made in another tab applies here too.
  window.addEventListener("storage", function (event) {
    if (event.key !== KEY) return;
    apply(stored());
    document.querySelectorAll("[data-theme-choice]").forEach(function (button) {
      button.setAttribute("aria-pressed", button.getAttribute("data-theme-choice") === stored() ? "true" : "false");
    });
  });
})();
