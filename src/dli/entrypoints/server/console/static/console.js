// dli console: the one script. A run's panel refreshes itself until the run has finished.
(function () {
  "use strict";
  function refresh(panel) {
    var delay = parseInt(panel.getAttribute("data-refresh"), 10) || 1000;
    window.setTimeout(function () {
      fetch(window.location.pathname, { headers: { "Accept": "text/html" }, credentials: "same-origin" })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html === null) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("run-panel");
          if (!fresh) { return; }
          panel.replaceWith(fresh);
          if (fresh.hasAttribute("data-refresh")) { refresh(fresh); }
        })
        .catch(function () { /* offline for a moment: the next visit shows the state */ });
    }, delay);
  }
  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("run-panel");
    if (panel && panel.hasAttribute("data-refresh")) { refresh(panel); }
  });
})();
