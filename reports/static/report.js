/* Case browser: filters and sorts the case cards the server rendered. It never writes HTML: it only toggles
   `hidden`, reorders existing nodes and sets textContent. Data attributes are read as text and parsed as JSON. */
(function () {
  "use strict";
  var list = document.getElementById("case-list");
  if (!list) { return; }
  var cards = Array.prototype.slice.call(list.querySelectorAll("article.case"));
  var judge = document.getElementById("f-judge");
  var type = document.getElementById("f-type");
  var user = document.getElementById("f-user");
  var text = document.getElementById("f-text");
  var sort = document.getElementById("f-sort");
  var count = document.getElementById("f-count");
  var noMatch = document.getElementById("no-match");

  function parse(value) {
    try { var parsed = JSON.parse(value || "[]"); return Array.isArray(parsed) ? parsed : []; }
    catch (error) { return []; }
  }

  var info = cards.map(function (card) {
    return {
      card: card,
      index: Number(card.getAttribute("data-index")) || 0,
      item: card.getAttribute("data-item") || "",
      user: card.getAttribute("data-user") || "",
      judges: parse(card.getAttribute("data-judges")),
      types: parse(card.getAttribute("data-types")),
      pairs: parse(card.getAttribute("data-pairs")),
      ndis: Number(card.getAttribute("data-ndis")) || 0,
      key: card.classList.contains("key"),
      haystack: null
    };
  });

  function matches(entry) {
    var j = judge ? judge.value : "";
    var t = type ? type.value : "";
    var u = user ? user.value : "";
    var q = text ? text.value.trim().toLowerCase() : "";
    if (u && entry.user !== u) { return false; }
    if (j || t) {
      var pairHit = entry.pairs.some(function (pair) {
        return (!j || pair[0] === j) && (!t || pair[1] === t);
      });
      // A case without disagreement rows is matched by the judges that labelled it.
      if (!pairHit && !(entry.pairs.length === 0 && !t && entry.judges.indexOf(j) >= 0)) { return false; }
    }
    if (q) {
      if (entry.haystack === null) { entry.haystack = entry.card.textContent.toLowerCase(); }
      if (entry.haystack.indexOf(q) < 0) { return false; }
    }
    return true;
  }

  function compare(a, b) {
    var by = sort ? sort.value : "key";
    var result = 0;
    if (by === "item") { result = a.item.localeCompare(b.item, undefined, { numeric: true }); }
    else if (by === "user") { result = a.user.localeCompare(b.user, undefined, { numeric: true }); }
    else if (by === "ndis") { result = b.ndis - a.ndis; }
    else { result = (a.key === b.key) ? 0 : (a.key ? -1 : 1); }
    return result || a.index - b.index;
  }

  function update() {
    var shown = 0;
    info.slice().sort(compare).forEach(function (entry) {
      var visible = matches(entry);
      entry.card.hidden = !visible;
      if (visible) { shown += 1; }
      list.appendChild(entry.card);
    });
    if (count) { count.textContent = shown + " of " + info.length + " shown"; }
    if (noMatch) { noMatch.hidden = shown !== 0; }
  }

  [judge, type, user, sort].forEach(function (control) {
    if (control) { control.addEventListener("change", update); }
  });
  if (text) { text.addEventListener("input", update); }
  var form = document.getElementById("case-controls");
  if (form) { form.addEventListener("submit", function (event) { event.preventDefault(); }); }
  update();
}());
