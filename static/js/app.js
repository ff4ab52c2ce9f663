// Gradline page behaviour: progressive enhancement only; every form also works without it.
(function () {
  "use strict";

  document.documentElement.classList.add("js");

  // Error answers (4xx/5xx) to htmx requests go to the #flash area instead of replacing
  // the section; the server renders them as an alert fragment (apps/core/htmx.py).
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status < 400) return;
    var flash = document.getElementById("flash");
    if (!flash) return;
    event.detail.shouldSwap = true;
    event.detail.isError = false;
    event.detail.target = flash;
    event.detail.swapOverride = "innerHTML";
    // Only our alert fragments are shown as they are; anything else (a debug page, a
    // proxy's error page) becomes a short message naming the status.
    if (xhr.status >= 500 || String(xhr.response).indexOf('class="alert') === -1) {
      var text =
        xhr.status === 403 ? "Permission denied." :
        xhr.status === 404 ? "Not found." :
        xhr.status >= 500 ? "The server hit an error. Try again in a moment." :
        "The request failed (HTTP " + xhr.status + ").";
      event.detail.serverResponse = '<div class="alert error" role="alert">' + text + "</div>";
    }
    // A refused change (e.g. demoting the last admin) puts a select back to its stored value.
    var source = event.detail.requestConfig && event.detail.requestConfig.elt;
    var form = source && (source.tagName === "FORM" ? source : source.closest("form"));
    if (form) form.reset();
  });

  document.addEventListener("htmx:sendError", function () {
    var flash = document.getElementById("flash");
    if (flash) {
      flash.innerHTML =
        '<div class="alert error" role="alert">Network error: the server could not be reached.</div>';
    }
  });

  // Plain (non-htmx) forms: a loading state on submit, and no double submission.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (event.defaultPrevented || form.hasAttribute("hx-post")) return;
    var submitter = event.submitter;
    var question =
      (submitter && submitter.getAttribute("data-confirm")) || form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (form.classList.contains("is-submitting")) {
      event.preventDefault();
      return;
    }
    form.classList.add("is-submitting");
  });
  // Back/forward cache restores a page with the class still set.
  window.addEventListener("pageshow", function () {
    document.querySelectorAll("form.is-submitting").forEach(function (form) {
      form.classList.remove("is-submitting");
    });
  });

  // Copy buttons: <button data-copy="#input-id">.
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var input = document.querySelector(button.getAttribute("data-copy"));
    if (!input) return;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.classList.add("copied");
      setTimeout(function () {
        button.textContent = label;
        button.classList.remove("copied");
      }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(input.value).then(done, function () {
        input.select();
      });
    } else {
      input.select();
      try {
        document.execCommand("copy");
        done();
      } catch (e) {
        /* the text stays selected for a manual copy */
      }
    }
  });

  // <a data-open="#details-id">: open a collapsed <details> section and focus its first field.
  document.addEventListener("click", function (event) {
    var link = event.target.closest("[data-open]");
    if (!link) return;
    var target = document.querySelector(link.getAttribute("data-open"));
    if (!target) return;
    event.preventDefault();
    target.open = true;
    target.scrollIntoView({ block: "nearest" });
    var field = target.querySelector("input, select, textarea");
    if (field) field.focus();
  });

  // Close an open dropdown (<details class="menu">) on an outside click or Escape.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      menu.removeAttribute("open");
    });
  });
})();
