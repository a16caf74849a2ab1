// Running total of the order form. The server prices the order; this is only a preview, and the
// page works without it (the total is shown again, from the server, after each submit).
(function () {
  "use strict";
  var form = document.getElementById("order-form");
  if (!form || !form.querySelector("input.qty")) { return; }
  var totalCell = document.getElementById("order-total");
  var available = document.getElementById("available-credit");
  var left = document.getElementById("credit-left");
  var hint = document.getElementById("total-hint");
  var currency = totalCell.dataset.currency;
  var availableCents = parseInt(available.dataset.availableCents, 10);
  var hintText = hint.textContent;

  // Whole cents as integers: no floating-point rounding in a money figure.
  function format(cents) {
    var sign = cents < 0 ? "-" : "";
    var abs = Math.abs(cents);
    var units = Math.floor(abs / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    var rest = (abs % 100).toString().padStart(2, "0");
    return sign + units + "." + rest + " " + currency;
  }

  function quantity(input) {
    var value = input.value.trim();
    return /^\d+$/.test(value) ? parseInt(value, 10) : 0;
  }

  function update() {
    var total = 0;
    form.querySelectorAll("input.qty").forEach(function (input) {
      var line = quantity(input) * parseInt(input.dataset.priceCents, 10);
      var cell = form.querySelector('[data-line-for="' + input.id + '"]');
      if (cell) { cell.textContent = line ? format(line) : "–"; }
      total += line;
    });
    totalCell.textContent = format(total);
    var over = total > availableCents;
    left.textContent = format(availableCents - total);
    left.classList.toggle("over", over);
    totalCell.classList.toggle("over", over);
    hint.textContent = over ? "This is more than your available credit: the order would be refused." : hintText;
    hint.classList.toggle("warning", over);
  }

  form.addEventListener("input", update);
  // One click, one submit; the idempotency key covers whatever still gets through twice.
  var button = form.querySelector("button[type=submit]");
  var label = button.textContent;
  form.addEventListener("submit", function () {
    window.setTimeout(function () { button.disabled = true; button.textContent = "Placing order…"; }, 0);
  });
  // Coming back with the browser's Back button restores the page as it was left: enable it again.
  window.addEventListener("pageshow", function () { button.disabled = false; button.textContent = label; });
  update();
}());
