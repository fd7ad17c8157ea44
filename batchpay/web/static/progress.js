// Live progress of a dry run, an execute's re-check or an execute without reloading the page
// (the page refreshes itself without JavaScript). Polls the run's progress every second; reloads
// once the run has left the state the page was drawn in (the dry run, the re-check or the
// execute has ended).
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) { return; }
  function put(id, text) {
    var node = document.getElementById(id);
    if (node) { node.textContent = text; }
  }
  function poll() {
    fetch(box.dataset.url, {credentials: "same-origin", cache: "no-store"})
      .then(function (response) { return response.json(); })
      .then(function (p) {
        if (p.state !== box.dataset.state) { window.location.reload(); return; }
        if (p.state === "dry-running" || p.state === "checking") {
          put("d-step", p.step || "Starting"); put("d-detail", p.detail || "");
          put("d-seconds", p.seconds || 0);
          var steps = document.getElementById("d-steps");
          steps.replaceChildren.apply(steps, (p.steps || []).map(function (s) {
            var item = document.createElement("li");
            item.textContent = s.label + ": done in " + s.seconds + " s" +
              (s.detail ? ", " + s.detail : "");
            return item;
          }));
          window.setTimeout(poll, 1000);
          return;
        }
        var bar = document.getElementById("p-bar");
        bar.max = p.total || 1;
        bar.value = p.done || 0;
        put("p-done", p.done); put("p-total", p.total); put("p-posted", p.posted);
        put("p-failed", p.failed); put("p-review", p.review); put("p-rate", p.rate);
        put("p-eta", p.eta === null || p.eta === undefined ? "" : "about " + p.eta + " s left");
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 1000);
}());
