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
});
// A page's error list (or a secret shown once) takes the focus, so it is read first.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector("[data-autofocus]");
  if (summary) summary.focus();
});

// The operator's screen pop: calls ringing at this operator, pushed by server-sent events
// (polled when the browser has none). Answering (or the button) fills in the call form.
document.addEventListener("DOMContentLoaded", function () {
  var area = document.getElementById("call-banners");
  var form = document.querySelector("form[data-call-form]");
  if (!area || !form) return;
  var filled = {};
  var fill = function (banner) {
    var id = banner.getAttribute("data-call");
    var number = form.querySelector("#caller_number");
    if (banner.getAttribute("data-number") && (!number.value || filled[number.value])) {
      number.value = banner.getAttribute("data-number");
      filled[number.value] = true;
    }
    var line = banner.getAttribute("data-line");
    var radio = line && form.querySelector("input[name=hotline][value=" + line + "]");
    if (radio) radio.checked = true;
    form.querySelector("input[name=call_id]").value = id;
    var started = document.getElementById("call-started");
    if (started) started.textContent = banner.getAttribute("data-started");
  };
  var show = function (html) {
    area.innerHTML = html;
    area.querySelectorAll(".call-banner").forEach(function (banner) {
      var id = banner.getAttribute("data-call");
      if (banner.getAttribute("data-state") === "answered" && !filled["call" + id]) {
        filled["call" + id] = true;
        fill(banner);
      }
    });
  };
  area.addEventListener("click", function (e) {
    var id = e.target.getAttribute && e.target.getAttribute("data-fill-call");
    if (id) fill(document.getElementById("call-" + id));
  });
  var poll = function () {
    fetch("/staff/calls/live", { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) { if (html !== null) show(html); })
      .catch(function () {});
  };
  if (window.EventSource) {
    var source = new EventSource("/staff/calls/stream");
    source.addEventListener("calls", function (e) { show(e.data); });
  } else {
    poll();
    setInterval(poll, 2000);
  }
});
