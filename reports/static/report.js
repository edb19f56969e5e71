/* Case browser: renders the cases of the embedded JSON document (#case-data) as one compact row per item, a page
   at a time, each row opening to its texts and verdicts. It never writes HTML: every node is made with
   createElement and filled with textContent, so a text from the data can only ever show as text.
   Filters: judge, disagreement kind, user, slice, free text; sort (a column's name again: the reverse order); keys
   (see #case-keys); #case=<item> opens a case (a permalink); the filters and the sort are kept in the address as
   #cases?judge=..&type=..&user=..&slice=..&q=..&sort=..&desc=1, so a filtered view can be linked to. */
(function () {
  "use strict";
  var source = document.getElementById("case-data");
  var body = document.getElementById("case-rows");
  if (!source || !body) { return; }
  var doc = JSON.parse(source.textContent);
  var cases = doc.cases || [];
  var judges = doc.judges || [];
  var kinds = doc.kinds || [];
  var fields = doc.fields || [];
  var sliceNames = doc.slices || [];
  var texts = doc.texts || [];
  var names = doc.names || judges;
  var referenceIndex = names.indexOf(doc.reference);
  var pageSize = doc.page_size || 25;
  var columns = 6 + judges.length;

  function byId(id) { return document.getElementById(id); }
  var control = {
    judge: byId("f-judge"), type: byId("f-type"), user: byId("f-user"), slice: byId("f-slice"),
    text: byId("f-text"), sort: byId("f-sort")
  };
  var section = byId("cases") || document.body;
  var count = byId("f-count");
  var pageInfo = byId("page-info");
  var noMatch = byId("no-match");
  var pager = {
    first: byId("page-first"), prev: byId("page-prev"), next: byId("page-next"), last: byId("page-last")
  };

  var byItem = {};
  cases.forEach(function (c, i) { byItem[c.item] = i; });
  var state = { rows: [], page: 0, active: -1, open: {}, desc: false };
  var VIEW = ["judge", "type", "user", "slice", "text", "sort"];  // the controls kept in the address
  var PARAM = { text: "q" };  // a control's name in the address, where it differs

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function kindKey(cell) { return cell && cell.length > 1 && kinds[cell[1]] ? kinds[cell[1]][0] : ""; }
  function kindLabel(cell) { return cell && cell.length > 1 && kinds[cell[1]] ? kinds[cell[1]][1] : ""; }
  function kindClass(cell) { return cell && cell.length > 1 && kinds[cell[1]] ? kinds[cell[1]][2] : "v-other"; }

  function haystack(c) {
    if (c.haystack === undefined) {
      var parts = [c.item, c.user, c.ref].concat(c.slices || []);
      (c.texts || []).forEach(function (t) { if (t !== null) { parts.push(texts[t]); } });
      (c.verdicts || []).forEach(function (v) { parts.push(names[v[0]], v[1], v[2], v[5]); });
      c.haystack = parts.join("\n").toLowerCase();
    }
    return c.haystack;
  }

  function sliceFilter() {
    var select = control.slice;
    if (!select || !select.value) { return null; }
    var option = select.options[select.selectedIndex];
    return { column: Number(option.getAttribute("data-column")), value: option.value };
  }

  function matches(c) {
    var j = control.judge ? control.judge.value : "";
    var t = control.type ? control.type.value : "";
    var u = control.user ? control.user.value : "";
    var q = control.text ? control.text.value.trim().toLowerCase() : "";
    var s = sliceFilter();
    if (u && c.user !== u) { return false; }
    if (s && (c.slices || [])[s.column] !== s.value) { return false; }
    if (j || t) {
      var hit = judges.some(function (name, k) {
        var cell = c.cells[k];
        return (!j || name === j) && cell && cell.length > 1 && (!t || kindKey(cell) === t);
      });
      // a case without disagreement rows is matched by the judges that labelled it
      if (!hit && !(c.n_disagree === 0 && !t && c.cells[judges.indexOf(j)])) { return false; }
    }
    return !q || haystack(c).indexOf(q) >= 0;
  }

  function text(a, b) { return String(a).localeCompare(String(b), undefined, { numeric: true }); }
  function compare(a, b) {
    var x = cases[a], y = cases[b];
    var by = control.sort ? control.sort.value : "rank";
    var result = 0;
    if (by === "item") { result = text(x.item, y.item); }
    else if (by === "user") { result = text(x.user, y.user); }
    else if (by === "ref") { result = text(x.ref, y.ref); }
    else if (by === "ndis") { result = y.n_disagree - x.n_disagree; }
    result = result || x.rank - y.rank;
    return state.desc ? -result : result;
  }

  function pages() { return Math.max(1, Math.ceil(state.rows.length / pageSize)); }

  function apply() {
    state.rows = [];
    for (var i = 0; i < cases.length; i += 1) { if (matches(cases[i])) { state.rows.push(i); } }
    state.rows.sort(compare);
    state.page = 0;
    state.active = state.rows.length ? 0 : -1;
    markSort();
    var view = viewHash();  // an open case's permalink stays; a page opened without an address keeps none
    if (!/^#case=/.test(location.hash) && (location.hash || view !== "#cases")) { setHash(view); }
    render();
  }

  // the view in the address: #cases, then the controls that are not at their default
  function viewHash() {
    var parts = [];
    VIEW.forEach(function (name) {
      var value = control[name] ? control[name].value : "";
      if (value && !(name === "sort" && value === "rank")) {
        parts.push((PARAM[name] || name) + "=" + encodeURIComponent(value));
      }
    });
    if (state.desc) { parts.push("desc=1"); }
    return "#cases" + (parts.length ? "?" + parts.join("&") : "");
  }

  // #cases?... sets the controls it names (a value a list does not offer is left out) and shows that view
  function viewFromHash() {
    var match = /^#cases\?(.*)$/.exec(location.hash);
    if (!match) { return false; }
    var params;
    try { params = new URLSearchParams(match[1]); } catch (error) { return false; }
    VIEW.forEach(function (name) {
      var field = control[name];
      if (!field) { return; }
      var value = params.get(PARAM[name] || name) || "";
      field.value = value;
      if (field.value !== value) { field.value = name === "sort" ? "rank" : ""; }
    });
    state.desc = params.get("desc") === "1";
    apply();
    return true;
  }

  function markSort() {
    var by = control.sort ? control.sort.value : "rank";
    Array.prototype.forEach.call(document.querySelectorAll("#case-table button.sort"), function (button) {
      var on = button.getAttribute("data-sort") === by;
      button.parentNode.setAttribute("aria-sort", on ? (state.desc ? "descending" : "ascending") : "none");
      button.setAttribute("data-dir", on ? (state.desc ? "reversed" : "default") : "");
    });
  }

  function cell(c, k) {
    var value = c.cells[k];
    var td = el("td", "v " + (value ? (value.length > 1 ? kindClass(value) : "v-agree") : "v-none"));
    td.textContent = value ? (value[0] || "—") : "";
    var title = judges[k] + ": " + (value ? (value[0] || "—") : "no verdict");
    if (value && value.length > 1) {
      title += " · " + kindLabel(value) + (value[2] ? " · distance " + value[2] : "");
    }
    td.title = title;
    return td;
  }

  function row(index, position) {
    var c = cases[index];
    var tr = el("tr", "case-row");
    tr.setAttribute("data-item", c.item);
    tr.setAttribute("data-position", String(position));
    tr.setAttribute("aria-expanded", state.open[c.item] ? "true" : "false");
    tr.tabIndex = position === state.active ? 0 : -1;
    if (position === state.active) { tr.classList.add("active"); }
    tr.appendChild(el("td", "c-rank", c.rank));
    var item = el("td", "c-item");
    item.appendChild(el("code", null, c.item));
    tr.appendChild(item);
    tr.appendChild(el("td", "c-user", c.user));
    tr.appendChild(el("td", "c-dist", c.distance));
    tr.appendChild(el("td", "c-dis", c.n_disagree));
    tr.appendChild(el("td", "v v-ref", c.ref || "—"));
    for (var k = 0; k < judges.length; k += 1) { tr.appendChild(cell(c, k)); }
    tr.addEventListener("click", function () { focusRow(position); toggle(index); });
    return tr;
  }

  function textBlock(name, value, cut) {
    var block = el("div", "text-block");
    block.appendChild(el("div", "text-name", name));
    block.appendChild(el("pre", "text", value));
    if (cut) { block.appendChild(el("p", "cut", "… " + cut.toLocaleString("en-US") + " more characters (in audit.json)")); }
    return block;
  }

  function detail(index) {
    var c = cases[index];
    var tr = el("tr", "case-detail");
    var td = el("td");
    td.colSpan = columns;
    var box = el("div", "detail");
    var head = el("p", "detail-head");
    head.appendChild(el("b", null, "Item "));
    head.appendChild(el("code", null, c.item));
    if (c.user) { head.appendChild(el("span", "meta", " · user " + c.user)); }
    sliceNames.forEach(function (name, k) {
      if (c.slices[k]) { head.appendChild(el("span", "meta", " · " + name + " " + c.slices[k])); }
    });
    var link = el("a", "permalink", "link to this case");
    link.href = "#case=" + encodeURIComponent(c.item);
    head.appendChild(document.createTextNode(" · "));
    head.appendChild(link);
    box.appendChild(head);
    var ref = doc.reference + " label " + (c.ref || "—");
    var raters = c.raters || (c.verdicts || []).filter(function (v) { return v[0] === referenceIndex; })
      .map(function (v) { return v[2] || ""; });
    if (raters.length) {
      ref += " (raters: " + raters.join(", ") + (c.raters_total > raters.length ? ", … " + c.raters_total + " in all" : "") + ")";
    }
    box.appendChild(el("p", "ref-line", ref));
    var chips = el("ul", "chips");
    judges.forEach(function (name, k) {
      var value = c.cells[k];
      if (value && value.length > 1) {
        var chip = el("li", "chip " + kindClass(value));
        chip.appendChild(el("b", null, name));
        chip.appendChild(document.createTextNode(": " + kindLabel(value) + " (label " + (value[0] || "—") + (value[2] ? ", distance " + value[2] : "") + ")"));
        chips.appendChild(chip);
      }
    });
    if (chips.firstChild) { box.appendChild(chips); }
    var textGrid = el("div", "texts");
    fields.forEach(function (field, k) {
      var t = c.texts[k];
      if (t !== null && t !== undefined) { textGrid.appendChild(textBlock(field[1], texts[t], (c.cut || [])[k])); }
    });
    if (textGrid.firstChild) { box.appendChild(textGrid); }
    if (c.verdicts && c.verdicts.length) {
      var withRaw = c.verdicts.some(function (v) { return v[5]; });
      var table = el("table", "verdicts");
      var headRow = el("tr");
      var headers = ["Judge", "Rater", "Label", "Order", "Score"].concat(withRaw ? ["Raw output (where it adds to the label)"] : []);
      headers.forEach(function (name) { var th = el("th", null, name); th.scope = "col"; headRow.appendChild(th); });
      var thead = el("thead");
      thead.appendChild(headRow);
      table.appendChild(thead);
      var tbody = el("tbody");
      c.verdicts.forEach(function (v) {
        var r = el("tr", v[0] === referenceIndex ? "reference" : "");
        if (v[0] < judges.length && c.cells[v[0]] && c.cells[v[0]].length > 1) { r.className = "disagrees"; }
        var th = el("th", null, names[v[0]]);
        th.scope = "row";
        r.appendChild(th);
        r.appendChild(el("td", null, v[1] || ""));
        var label = el("td", "label", v[2] || "");
        if (v[6]) { label.appendChild(el("span", "excluded", " (excluded: " + v[6] + ")")); }
        r.appendChild(label);
        r.appendChild(el("td", null, v[3] || ""));
        r.appendChild(el("td", null, v[4] || ""));
        if (withRaw) {
          var raw = el("td", "raw");
          if (v[5]) { raw.appendChild(el("pre", "text", v[5])); }
          r.appendChild(raw);
        }
        tbody.appendChild(r);
      });
      table.appendChild(tbody);
      box.appendChild(table);
      if (c.verdicts_total > c.verdicts.length) {
        box.appendChild(el("p", "note", c.verdicts.length + " of " + c.verdicts_total + " verdicts shown"));
      }
    }
    td.appendChild(box);
    tr.appendChild(td);
    return tr;
  }

  function render() {
    while (body.firstChild) { body.removeChild(body.firstChild); }
    var start = state.page * pageSize;
    var stop = Math.min(state.rows.length, start + pageSize);
    for (var p = start; p < stop; p += 1) {
      var index = state.rows[p];
      body.appendChild(row(index, p));
      if (state.open[cases[index].item]) { body.appendChild(detail(index)); }
    }
    if (count) { count.textContent = state.rows.length + " of " + cases.length + " cases match"; }
    if (pageInfo) { pageInfo.textContent = "page " + (state.page + 1) + " of " + pages(); }
    if (noMatch) { noMatch.hidden = state.rows.length !== 0; }
    pager.first.disabled = pager.prev.disabled = state.page === 0;
    pager.next.disabled = pager.last.disabled = state.page >= pages() - 1;
  }

  function rowAt(position) { return body.querySelector('tr.case-row[data-position="' + position + '"]'); }

  function focusRow(position) {
    if (position < 0 || position >= state.rows.length) { return; }
    state.active = position;
    var page = Math.floor(position / pageSize);
    if (page !== state.page) { state.page = page; render(); }
    Array.prototype.forEach.call(body.querySelectorAll("tr.case-row"), function (tr) {
      var on = Number(tr.getAttribute("data-position")) === position;
      tr.tabIndex = on ? 0 : -1;
      tr.classList.toggle("active", on);
    });
    var tr = rowAt(position);
    if (tr) { tr.focus({ preventScroll: true }); tr.scrollIntoView({ block: "nearest" }); }
  }

  function setHash(value) {
    try { history.replaceState(null, "", value); } catch (error) { /* a page without history keeps its address */ }
  }

  function toggle(index) {
    var item = cases[index].item;
    if (state.open[item]) {
      delete state.open[item];
      if (location.hash === "#case=" + encodeURIComponent(item)) { setHash(viewHash()); }
    } else {
      state.open[item] = true;
      setHash("#case=" + encodeURIComponent(item));
    }
    var position = state.active;
    render();
    focusRow(position);
  }

  function turn(page) {
    var target = Math.max(0, Math.min(pages() - 1, page));
    if (target === state.page) { return; }
    state.page = target;
    state.active = target * pageSize;
    render();
    focusRow(state.active);
  }

  function openFromHash() {
    var match = /^#case=(.*)$/.exec(location.hash);
    if (!match) { return; }
    var id;
    try { id = decodeURIComponent(match[1]); } catch (error) { return; }
    var index = byItem[id];
    if (index === undefined) { return; }
    var position = state.rows.indexOf(index);
    if (position < 0) {  // filtered out: show every case again
      ["judge", "type", "user", "slice", "text"].forEach(function (name) { if (control[name]) { control[name].value = ""; } });
      apply();
      position = state.rows.indexOf(index);
    }
    state.open[id] = true;
    state.page = Math.floor(position / pageSize);
    state.active = position;
    render();
    var tr = rowAt(position);
    if (tr) { tr.scrollIntoView({ block: "center" }); tr.focus({ preventScroll: true }); }
  }

  ["judge", "type", "user", "slice"].forEach(function (name) {
    if (control[name]) { control[name].addEventListener("change", apply); }
  });
  if (control.sort) { control.sort.addEventListener("change", function () { state.desc = false; apply(); }); }
  if (control.text) { control.text.addEventListener("input", apply); }
  var form = byId("case-controls");
  if (form) { form.addEventListener("submit", function (event) { event.preventDefault(); }); }
  pager.first.addEventListener("click", function () { turn(0); });
  pager.prev.addEventListener("click", function () { turn(state.page - 1); });
  pager.next.addEventListener("click", function () { turn(state.page + 1); });
  pager.last.addEventListener("click", function () { turn(pages() - 1); });
  window.addEventListener("hashchange", function () { if (!viewFromHash()) { openFromHash(); } });
  Array.prototype.forEach.call(document.querySelectorAll("#case-table button.sort"), function (button) {
    button.addEventListener("click", function () {  // a column's name: sort by it; again: the reverse order
      var by = button.getAttribute("data-sort");
      if (control.sort) {
        state.desc = control.sort.value === by ? !state.desc : false;
        control.sort.value = by;
      }
      apply();
    });
  });

  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey) { return; }
    var target = event.target;
    var tag = target && target.tagName ? target.tagName.toLowerCase() : "";
    if (tag === "input" || tag === "select" || tag === "textarea") {
      if (event.key === "Escape") { target.blur(); }
      return;
    }
    var onRow = target && target.classList && target.classList.contains("case-row");
    var key = event.key;
    if (key === "/") { event.preventDefault(); control.text.focus(); return; }
    if (!section.contains(target)) { return; }  // the browser's keys act once a row (or the pager) has focus
    if (key === "j" || (onRow && key === "ArrowDown")) { event.preventDefault(); focusRow(state.active + 1); }
    else if (key === "k" || (onRow && key === "ArrowUp")) { event.preventDefault(); focusRow(state.active - 1); }
    else if (key === "n" || (onRow && key === "ArrowRight")) { event.preventDefault(); turn(state.page + 1); }
    else if (key === "p" || (onRow && key === "ArrowLeft")) { event.preventDefault(); turn(state.page - 1); }
    else if (onRow && (key === "Enter" || key === " ")) { event.preventDefault(); toggle(state.rows[state.active]); }
    else if (key === "Escape" && state.active >= 0 && state.open[cases[state.rows[state.active]].item]) {
      toggle(state.rows[state.active]);
    }
  });

  if (!viewFromHash()) { apply(); }
  openFromHash();
  if (window.performance && performance.mark) { performance.mark("auditor-cases-rendered"); }
}());
