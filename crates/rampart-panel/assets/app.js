// Rampart — the UI's one script. Progressive enhancement only: every page
// works without it. No inline handlers (the CSP forbids them).
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // Show/hide a password field.
  document.querySelectorAll("button[data-reveal]").forEach(function (button) {
    var input = document.getElementById(button.getAttribute("data-reveal"));
    if (!input) return;
    button.addEventListener("click", function () {
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      button.textContent = show ? "Hide" : "Show";
      button.setAttribute("aria-label", show ? "Hide password" : "Show password");
    });
  });

  // Warn before submitting two different passwords.
  document.querySelectorAll("form[data-confirm-passwords]").forEach(function (form) {
    var first = form.querySelector("input[name=password]");
    var second = form.querySelector("input[name=password_confirm]");
    var warning = form.querySelector("[data-mismatch]");
    if (!first || !second || !warning) return;
    function check() {
      var differ = second.value !== "" && first.value !== second.value;
      warning.hidden = !differ;
      second.setCustomValidity(differ ? "The two passwords differ." : "");
    }
    first.addEventListener("input", check);
    second.addEventListener("input", check);
  });

  // Menu button on narrow screens.
  var toggle = document.querySelector(".nav-toggle");
  var nav = document.getElementById("nav");
  if (toggle && nav) {
    toggle.addEventListener("click", function () {
      var open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    });
  }
});
