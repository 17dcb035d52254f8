// Progressive enhancement for the staff pages; everything works without it.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-copy]").forEach(function (button) {
    if (!navigator.clipboard) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(button.getAttribute("data-copy")).then(function () {
        var text = button.textContent;
        button.textContent = "✓";
        setTimeout(function () { button.textContent = text; }, 1200);
      });
    });
  });
});
// The queue refreshes its rows in place (the filters and search applied, posted again from
// the page's hidden copy of them, so search words never enter an address) without a reload.
document.addEventListener("DOMContentLoaded", function () {
  var body = document.querySelector("[data-refresh]");
  var applied = document.getElementById("queue-refresh");
  if (!body || !applied || !window.fetch) return;
  var seconds = parseInt(body.getAttribute("data-refresh"), 10) || 15;
  setInterval(function () {
    if (document.hidden) return;
    fetch(applied.action, {
      method: "POST",
      credentials: "same-origin",
      body: new URLSearchParams(new FormData(applied)),
    }).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (html) {
      if (html !== null) body.innerHTML = html;
    });
  }, seconds * 1000);
});
// A section that refreshes in place (the day's arrivals on the callback list): the page is
// fetched again and the section swapped, unless the user is working inside it.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-refresh-section]").forEach(function (section) {
    if (!window.fetch || !window.DOMParser) return;
    var seconds = parseInt(section.getAttribute("data-refresh-section"), 10) || 15;
    setInterval(function () {
      if (document.hidden || section.contains(document.activeElement)) return;
      fetch(window.location.href, { credentials: "same-origin" }).then(function (r) {
        return r.ok ? r.text() : null;
      }).then(function (html) {
        if (html === null || section.contains(document.activeElement)) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById(section.id);
        if (fresh) section.innerHTML = fresh.innerHTML;
      });
    }, seconds * 1000);
  });
});
// The repeat-visitor banner follows what the clerk types in the phone and ID fields.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("[data-repeat-check]");
  var banner = document.getElementById("repeat-banner");
  if (!form || !banner || !window.fetch) return;
  var check = function () {
    var phone = form.querySelector("#phone").value.trim();
    var id = form.querySelector("#id_card").value.trim();
    if (phone.length < 7 && id.length < 18) return;
    var body = new URLSearchParams({ phone: phone, id_card: id, csrf: form.elements["csrf"].value });
    fetch("/staff/register/repeat", { method: "POST", credentials: "same-origin", body: body })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) { banner.innerHTML = html; });
  };
  form.querySelector("#phone").addEventListener("change", check);
  form.querySelector("#id_card").addEventListener("change", check);
  var summary = document.querySelector("[data-autofocus]");
  if (summary) summary.focus();
});
