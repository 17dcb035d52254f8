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
