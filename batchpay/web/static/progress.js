// Live progress of an execute without reloading the page (the page refreshes itself without
// JavaScript). Polls the run's progress every second; reloads once the execute has ended.
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
        if (p.state !== "executing") { window.location.reload(); return; }
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
