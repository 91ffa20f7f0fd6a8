// The report's behaviour: one detail panel open at a time, opened by a
// grid cell (click, Enter or Space: they are buttons) or by #cell=ID in
// the URL; arrow keys move between cells; Escape goes back to the grid.
// Without this script every panel is shown, one after another.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var buttons = Array.prototype.slice.call(document.querySelectorAll("button.cell"));
  var panels = Array.prototype.slice.call(document.querySelectorAll("section.detail"));
  var hint = document.getElementById("detail-hint");
  var current = null;

  function cellId(button) {
    return button.getAttribute("data-cell");
  }

  function buttonFor(id) {
    for (var i = 0; i < buttons.length; i++) {
      if (cellId(buttons[i]) === id) return buttons[i];
    }
    return null;
  }

  function showOnly(panel) {
    panels.forEach(function (p) {
      p.hidden = p !== panel;
      p.classList.toggle("open", p === panel);
    });
    if (hint) hint.hidden = panel !== null;
  }

  function open(id, focus) {
    var panel = document.getElementById("detail-" + id);
    if (!panel || panels.indexOf(panel) < 0) return false;
    showOnly(panel);
    current = id;
    buttons.forEach(function (b) {
      var on = cellId(b) === id;
      b.setAttribute("aria-expanded", on ? "true" : "false");
      b.classList.toggle("selected", on);
    });
    if (focus) {
      var heading = panel.querySelector("h2");
      if (heading) heading.focus();
    }
    return true;
  }

  function close() {
    if (current === null) return;
    var b = buttonFor(current);
    showOnly(null);
    buttons.forEach(function (x) {
      x.setAttribute("aria-expanded", "false");
      x.classList.remove("selected");
    });
    current = null;
    setHash("");
    if (b) b.focus();
  }

  function setHash(hash) {
    try {
      history.replaceState(null, "", hash || location.pathname + location.search);
    } catch (e) {
      // Some file: URLs refuse history changes; the panel is open anyway.
    }
  }

  function fromHash() {
    var h = location.hash;
    if (h.indexOf("#cell=") !== 0) return;
    var id;
    try {
      id = decodeURIComponent(h.slice(6));
    } catch (e) {
      return;
    }
    open(id, true);
  }

  var maxRow = 0, maxCol = 0;
  buttons.forEach(function (b) {
    maxRow = Math.max(maxRow, Number(b.getAttribute("data-row")));
    maxCol = Math.max(maxCol, Number(b.getAttribute("data-col")));
  });

  // The next cell in a direction, skipping grid positions with no cell.
  function move(from, dr, dc) {
    var r = Number(from.getAttribute("data-row")) + dr;
    var c = Number(from.getAttribute("data-col")) + dc;
    for (; r >= 0 && c >= 0 && r <= maxRow && c <= maxCol; r += dr, c += dc) {
      var next = document.querySelector(
        'button.cell[data-row="' + r + '"][data-col="' + c + '"]');
      if (next) {
        next.focus();
        return;
      }
    }
  }

  var arrows = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };

  showOnly(null);
  buttons.forEach(function (b) {
    b.setAttribute("aria-expanded", "false");
    b.addEventListener("click", function () {
      var id = cellId(b);
      if (open(id, true)) setHash("#cell=" + encodeURI(id));
    });
    b.addEventListener("keydown", function (e) {
      var d = arrows[e.key];
      if (!d) return;
      e.preventDefault();
      move(b, d[0], d[1]);
    });
  });
  panels.forEach(function (p) {
    var back = p.querySelector("button.back");
    if (back) back.addEventListener("click", close);
  });
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") close();
  });
  window.addEventListener("hashchange", fromHash);
  fromHash();
})();
