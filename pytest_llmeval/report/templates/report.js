// report.html's sample table, inlined by html.py. Vanilla JS, no network. Text goes in through
// textContent only, so nothing a model replied can become markup. At most one page of rows is in
// the DOM at a time, so 15,000 samples stay responsive. The page includes this file through
// Jinja: keep Jinja's delimiters (double braces, brace-percent, brace-hash) out of it.
(function () {
  "use strict";
  var source = document.getElementById("samples-data");
  var body = document.querySelector("#samples-table tbody");
  if (!source || !body) { return; }
  var data = JSON.parse(source.textContent);
  var pageSize = parseInt(source.getAttribute("data-page-size"), 10) || 200;
  var col = {};
  data.columns.forEach(function (name, i) { col[name] = i; });
  var searched = ["model", "suite", "subject", "id", "prompt", "reply", "extracted", "rule", "target"];
  var haystacks = new Array(data.rows.length);
  var search = document.getElementById("sample-search");
  var status = document.getElementById("sample-status");
  var rule = document.getElementById("sample-rule");
  var count = document.getElementById("sample-count");
  var prev = document.getElementById("page-prev");
  var next = document.getElementById("page-next");
  var matches = [];
  var page = 0;

  function text(value) { return value === null || value === undefined ? "" : String(value); }

  // A prompt travels as its subject's shared prefix (an index) plus the rest; join them back.
  function prompt(row) { return (data.prefixes[row[col.prefix]] || "") + text(row[col.prompt]); }


  // A row's own text, with its prompt prefix's last 100 characters so a term that straddles the
  // join still matches; the shared prefixes are searched once each, not once per row.
  var prefixesLower = data.prefixes.map(function (p) { return p.toLowerCase(); });
  function haystack(i) {
    if (haystacks[i] === undefined) {
      var row = data.rows[i];
      var tail = (data.prefixes[row[col.prefix]] || "").slice(-100);
      haystacks[i] = searched.map(function (name) {
        return name === "prompt" ? tail + text(row[col.prompt]) : text(row[col[name]]);
      }).join("\u0000").toLowerCase();
    }
    return haystacks[i];
  }

  function matchesTerm(i, term) {
    return haystack(i).indexOf(term) !== -1 || prefixesLower[data.rows[i][col.prefix]].indexOf(term) !== -1;
  }

  var timer = null;

  function filter() {
    clearTimeout(timer);  // a search still waiting on its debounce is answered by this run
    var terms = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    var wanted = status.value;
    var wantedRule = rule.value;
    matches = [];
    for (var i = 0; i < data.rows.length; i++) {
      var row = data.rows[i];
      // "unparsed" is a kind of miss: the reply had no readable answer
      if (wanted === "unparsed" ? !row[col.unparsed] : wanted && row[col.status] !== wanted) { continue; }
      if (wantedRule && row[col.rule] !== wantedRule) { continue; }
      if (terms.every(function (t) { return matchesTerm(i, t); })) { matches.push(i); }
    }
    page = 0;
    render();
  }

  function cell(tr, value) {
    var td = document.createElement("td");
    td.textContent = value === null || value === undefined ? data.missing : text(value);
    tr.appendChild(td);
    return td;
  }

  function longCell(tr, value) {
    var td = cell(tr, "");
    var full = text(value);
    if (full.length <= 80 && full.indexOf("\n") === -1) { td.textContent = full; return; }
    var details = document.createElement("details");
    var summary = document.createElement("summary");
    summary.textContent = full.replace(/\s+/g, " ").slice(0, 80) + "…";
    var pre = document.createElement("pre");
    pre.textContent = full;
    details.appendChild(summary);
    details.appendChild(pre);
    td.appendChild(details);
  }

  function sampleRow(row) {
    var tr = document.createElement("tr");
    tr.className = "sample " + row[col.status] + (row[col.unparsed] ? " unparsed" : "");
    ["model", "suite", "subject", "id"].forEach(function (name) { cell(tr, row[col[name]]); });
    var outcome = cell(tr, row[col.status]);
    if (row[col.error]) { outcome.title = text(row[col.error]); }
    cell(tr, row[col.target]);
    cell(tr, row[col.extracted]);
    cell(tr, row[col.rule]);
    longCell(tr, prompt(row));
    longCell(tr, row[col.error] ? row[col.error] : row[col.reply]);
    return tr;
  }

  function render() {
    var pages = Math.max(1, Math.ceil(matches.length / pageSize));
    page = Math.min(Math.max(page, 0), pages - 1);
    var start = page * pageSize;
    var shown = matches.slice(start, start + pageSize);
    var fragment = document.createDocumentFragment();
    shown.forEach(function (i) { fragment.appendChild(sampleRow(data.rows[i])); });
    body.replaceChildren(fragment);
    // What the rows on show answer, so a reader (or a test) can tell a finished search from a pending one.
    body.parentNode.setAttribute("data-query", search.value);
    body.parentNode.setAttribute("data-status", status.value);
    body.parentNode.setAttribute("data-rule", rule.value);
    count.textContent = matches.length === 0 ? "no matching samples of " + data.rows.length
      : "showing " + (start + 1) + "–" + (start + shown.length) + " of " + matches.length +
        (matches.length === data.rows.length ? "" : " matching (" + data.rows.length + " in all)");
    prev.disabled = page === 0;
    next.disabled = page >= pages - 1;
  }

  search.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(filter, 120);
  });
  status.addEventListener("change", filter);
  rule.addEventListener("change", filter);
  prev.addEventListener("click", function () { page -= 1; render(); });
  next.addEventListener("click", function () { page += 1; render(); });
  filter();
}());
