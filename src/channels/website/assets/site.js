// Progressive enhancement only: every page works without it.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector("[data-autofocus]");
  if (summary) summary.focus();
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
  // A tracking link (/track#case=…&code=…) keeps the code out of every server's log: the
  // fragment is never sent. Fill the form from it, drop it from the address bar and history,
  // and send the form (a POST, so the code travels in the body).
  var form = document.getElementById("track-form");
  if (form && location.hash.length > 1) {
    var params = new URLSearchParams(location.hash.slice(1));
    var caseNumber = params.get("case");
    var code = params.get("code");
    history.replaceState(null, "", location.pathname + location.search);
    if (caseNumber && code) {
      form.elements["case"].value = caseNumber;
      form.elements["code"].value = code;
      form.submit();
    }
  }
});
