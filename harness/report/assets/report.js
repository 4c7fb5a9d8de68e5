/* The report's segment browser. Data comes from the JSON block #report-data; every string
   from it reaches the page through textContent / createTextNode only, never as markup. Only
   the visible page of segments is rendered, so large datasets open quickly. */
(function () {
  "use strict";
  var STARTED = performance.now();
  var DATA = JSON.parse(document.getElementById("report-data").textContent);
  var PAGE_SIZES = [10, 25, 50, 100];
  var DIFF_CELLS = 4000000; // larger LCS tables are skipped (the text is shown plain)

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function option(select, value, label) {
    var o = el("option", null, label);
    o.value = String(value);
    select.appendChild(o);
    return o;
  }
  function labelled(text, control) {
    var l = el("label");
    l.appendChild(document.createTextNode(text));
    l.appendChild(control);
    return l;
  }
  function fmt(v) { return v === null || v === undefined ? "–" : (+v).toFixed(1); }

  /* Character diff of a hypothesis against a reference: [[op, text]], op "=" (shared),
     "+" (only in the hypothesis), "-" (only in the reference). Common prefix and suffix are
     cut first; the middle is an LCS over code points. */
  function diffChars(hyp, ref) {
    var a = Array.from(hyp), b = Array.from(ref);
    var pre = 0;
    while (pre < a.length && pre < b.length && a[pre] === b[pre]) pre++;
    var suf = 0;
    while (suf < a.length - pre && suf < b.length - pre &&
           a[a.length - 1 - suf] === b[b.length - 1 - suf]) suf++;
    var ma = a.slice(pre, a.length - suf), mb = b.slice(pre, b.length - suf);
    var ops = [];
    if (pre) ops.push(["=", a.slice(0, pre).join("")]);
    var middle = middleDiff(ma, mb);
    if (middle === null) return null;
    ops = ops.concat(middle);
    if (suf) ops.push(["=", a.slice(a.length - suf).join("")]);
    return cleanup(regroup(ops));
  }
  function middleDiff(a, b) {
    var n = a.length, m = b.length, out = [];
    if (!n && !m) return out;
    if (!n) return [["-", b.join("")]];
    if (!m) return [["+", a.join("")]];
    if ((n + 1) * (m + 1) > DIFF_CELLS) return null;
    var w = m + 1, L = new Uint16Array((n + 1) * w);
    for (var i = n - 1; i >= 0; i--) {
      for (var j = m - 1; j >= 0; j--) {
        L[i * w + j] = a[i] === b[j] ? L[(i + 1) * w + j + 1] + 1
          : Math.max(L[(i + 1) * w + j], L[i * w + j + 1]);
      }
    }
    i = 0; j = 0;
    while (i < n && j < m) {
      if (a[i] === b[j]) { out.push(["=", a[i]]); i++; j++; }
      else if (L[(i + 1) * w + j] >= L[i * w + j + 1]) { out.push(["+", a[i]]); i++; }
      else { out.push(["-", b[j]]); j++; }
    }
    while (i < n) out.push(["+", a[i++]]);
    while (j < m) out.push(["-", b[j++]]);
    return out;
  }
  function merge(ops) {
    var out = [];
    ops.forEach(function (op) {
      var last = out[out.length - 1];
      if (last && last[0] === op[0]) last[1] += op[1]; else out.push([op[0], op[1]]);
    });
    return out;
  }
  /* A shared run of one or two characters between two changes is noise (a space or a
     letter matched by chance): fold it into the changes on both sides. */
  function cleanup(ops) {
    var changed = true;
    while (changed) {
      changed = false;
      for (var k = 1; k < ops.length - 1; k++) {
        if (ops[k][0] === "=" && Array.from(ops[k][1]).length <= 2 &&
            ops[k - 1][0] !== "=" && ops[k + 1][0] !== "=") {
          var t = ops[k][1];
          ops.splice(k, 1, ["-", t], ["+", t]);
          ops = regroup(ops);
          changed = true;
          break;
        }
      }
    }
    return ops;
  }
  /* Within each run of changes, all reference-only text first, then hypothesis-only text. */
  function regroup(ops) {
    var out = [], del = "", add = "";
    function flush() {
      if (del) out.push(["-", del]);
      if (add) out.push(["+", add]);
      del = ""; add = "";
    }
    ops.forEach(function (op) {
      if (op[0] === "=") { flush(); out.push(op); }
      else if (op[0] === "-") del += op[1]; else add += op[1];
    });
    flush();
    return out;
  }

  function renderDiff(hyp, ref) {
    var box = el("div", "text hyp");
    if (!hyp) { box.appendChild(el("span", "empty-out", "(empty output)")); return box; }
    var ops = ref === undefined ? [["=", hyp]] : diffChars(hyp, ref);
    if (ops === null) {
      box.textContent = hyp;
      box.appendChild(el("span", "diffnote", " (too long to compare)"));
      return box;
    }
    ops.forEach(function (op) {
      if (op[0] === "=") box.appendChild(document.createTextNode(op[1]));
      else box.appendChild(el(op[0] === "+" ? "mark" : "del", op[0] === "+" ? "add" : "miss",
                              op[1]));
    });
    return box;
  }

  function View(data, root) {
    this.d = data;
    this.root = root;
    this.n = data.ids.length;
    this.metrics = Object.keys(data.scores);
    this.flags = data.systems.map(function (_, s) {
      var arr = new Array(data.ids.length);
      (data.flags[s] || []).forEach(function (pair) { arr[pair[0]] = pair[1]; });
      return arr;
    });
    // Per flag, how many segments have it in at least one system (what its filter shows).
    var seen = {}, flags = this.flags;
    for (var i = 0; i < this.n; i++) {
      var here = {};
      flags.forEach(function (arr) { (arr[i] || []).forEach(function (f) { here[f] = 1; }); });
      Object.keys(here).forEach(function (f) { seen[f] = (seen[f] || 0) + 1; });
    }
    this.flagCounts = seen;
    this.flagNames = Object.keys(seen);
    this.hay = null;
    this.state = { text: "", flag: "", flagSystem: -1, sort: "input", metric: this.metrics[0],
                   a: 0, b: Math.min(1, data.systems.length - 1), dir: "asc", page: 0,
                   size: 25 };
    this.build();
    this.apply();
  }
  View.prototype.build = function () {
    var self = this, d = this.d;
    var controls = el("div", "controls");
    var search = el("input");
    search.type = "search";
    search.placeholder = "source, reference, output or id";
    search.className = "q";
    var timer = null;
    search.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { self.set({ text: search.value }); }, 120);
    });
    controls.appendChild(labelled("Filter ", search));
    var flag = el("select", "flag-filter");
    option(flag, "", "all segments");
    if (this.flagNames.length) {
      option(flag, "*any", "any flag");
      option(flag, "*none", "no flag");
    }
    this.flagNames.forEach(function (f) {
      option(flag, f, f.replace(/_/g, " ") + " (" + self.flagCounts[f] + ")");
    });
    flag.addEventListener("change", function () { self.set({ flag: flag.value }); });
    controls.appendChild(labelled("Flag ", flag));
    var fsys = this.systemSelect("flag-system", true);
    fsys.addEventListener("change", function () { self.set({ flagSystem: +fsys.value }); });
    controls.appendChild(labelled("in ", fsys));
    var sort = el("select", "sort");
    option(sort, "input", "input order");
    if (this.metrics.length) {
      option(sort, "score", "score of A");
      if (d.systems.length > 1) option(sort, "diff", "difference B − A");
    }
    sort.addEventListener("change", function () { self.set({ sort: sort.value }); });
    controls.appendChild(labelled("Sort ", sort));
    var metric = el("select", "metric");
    this.metrics.forEach(function (m) { option(metric, m, m); });
    metric.addEventListener("change", function () { self.set({ metric: metric.value }); });
    if (this.metrics.length) controls.appendChild(labelled("by ", metric));
    var a = this.systemSelect("sys-a", false), b = this.systemSelect("sys-b", false);
    b.value = String(this.state.b);
    a.addEventListener("change", function () { self.set({ a: +a.value }); });
    b.addEventListener("change", function () { self.set({ b: +b.value }); });
    controls.appendChild(labelled("A ", a));
    if (d.systems.length > 1) controls.appendChild(labelled("B ", b));
    var dir = el("select", "dir");
    option(dir, "asc", "lowest first");
    option(dir, "desc", "highest first");
    dir.addEventListener("change", function () { self.set({ dir: dir.value }); });
    controls.appendChild(dir);
    var del = el("input");
    del.type = "checkbox";
    del.checked = true;
    del.className = "show-del";
    del.addEventListener("change", function () {
      self.root.classList.toggle("hide-del", !del.checked);
    });
    controls.appendChild(labelled("show reference text the output lacks ", del));
    this.root.appendChild(controls);
    this.controls = { search: search, flag: flag, flagSystem: fsys, sort: sort, metric: metric,
                      a: a, b: b, dir: dir };
    this.status = el("div", "status");
    this.root.appendChild(this.status);
    this.list = el("div", "segments");
    this.root.appendChild(this.list);
    this.pager = el("div", "pager");
    this.root.appendChild(this.pager);
  };
  View.prototype.systemSelect = function (cls, any) {
    var s = el("select", cls);
    if (any) option(s, -1, "any system");
    this.d.systems.forEach(function (name, i) { option(s, i, name); });
    return s;
  };
  View.prototype.set = function (change) {
    var keepPage = Object.keys(change).every(function (k) { return k === "page" || k === "size"; });
    Object.assign(this.state, change);
    if (!keepPage) this.state.page = 0;
    if (keepPage) this.render(); else this.apply();
  };
  /* Used by the validity table: show the segments one system flagged with one flag. */
  View.prototype.showFlag = function (flag, system) {
    this.controls.flag.value = flag;
    this.controls.flagSystem.value = String(system);
    this.set({ flag: flag, flagSystem: system });
    this.root.scrollIntoView();
  };
  View.prototype.haystack = function (i) {
    if (!this.hay) this.hay = new Array(this.n);
    if (this.hay[i] === undefined) {
      var d = this.d;
      var parts = [d.ids[i], d.src[i]].concat(d.refs[i]);
      d.hyp.forEach(function (h) { parts.push(h[i]); });
      this.hay[i] = parts.join("\n").toLowerCase();
    }
    return this.hay[i];
  };
  View.prototype.flagMatch = function (i) {
    var f = this.state.flag, sys = this.state.flagSystem, flags = this.flags;
    if (!f) return true;
    var systems = sys >= 0 ? [sys] : flags.map(function (_, s) { return s; });
    var hits = systems.map(function (s) {
      var fl = flags[s][i];
      if (f === "*any" || f === "*none") return !!(fl && fl.length);
      return !!(fl && fl.indexOf(f) >= 0);
    });
    var any = hits.some(Boolean);
    return f === "*none" ? !any : any;
  };
  View.prototype.sortValue = function (i) {
    var st = this.state, sc = this.d.scores[st.metric];
    if (!sc) return null;
    var va = sc[st.a] ? sc[st.a][i] : null;
    if (st.sort === "score") return va;
    var vb = sc[st.b] ? sc[st.b][i] : null;
    return va === null || vb === null ? null : vb - va;
  };
  View.prototype.apply = function () {
    var st = this.state, q = st.text.trim().toLowerCase(), idx = [];
    for (var i = 0; i < this.n; i++) {
      if (q && this.haystack(i).indexOf(q) < 0) continue;
      if (!this.flagMatch(i)) continue;
      idx.push(i);
    }
    if (st.sort !== "input") {
      var self = this, sign = st.dir === "desc" ? -1 : 1;
      var keys = {};
      idx.forEach(function (i) { keys[i] = self.sortValue(i); });
      idx.sort(function (x, y) {
        var kx = keys[x], ky = keys[y];
        if (kx === null && ky === null) return x - y;
        if (kx === null) return 1;
        if (ky === null) return -1;
        return sign * (kx - ky) || x - y;
      });
    }
    this.idx = idx;
    this.render();
  };
  View.prototype.render = function () {
    var st = this.state, total = this.idx.length;
    var pages = Math.max(1, Math.ceil(total / st.size));
    st.page = Math.min(st.page, pages - 1);
    var start = st.page * st.size, shown = this.idx.slice(start, start + st.size);
    this.status.textContent = total
      ? "Segments " + (start + 1) + "–" + (start + shown.length) + " of " + total +
        (total < this.n ? " (filtered from " + this.n + ")" : "")
      : "No segment matches (of " + this.n + ")";
    this.status.setAttribute("data-count", String(total));
    var frag = document.createDocumentFragment(), self = this;
    shown.forEach(function (i) { frag.appendChild(self.card(i)); });
    this.list.replaceChildren(frag);
    this.renderPager(pages);
  };
  View.prototype.renderPager = function (pages) {
    var self = this, st = this.state;
    var prev = el("button", "prev", "‹ previous"), next = el("button", "next", "next ›");
    prev.type = next.type = "button";
    prev.disabled = st.page === 0;
    next.disabled = st.page >= pages - 1;
    prev.addEventListener("click", function () { self.set({ page: st.page - 1 }); });
    next.addEventListener("click", function () { self.set({ page: st.page + 1 }); });
    var size = el("select", "page-size");
    PAGE_SIZES.forEach(function (n) { option(size, n, n + " per page"); });
    size.value = String(st.size);
    size.addEventListener("change", function () { self.set({ size: +size.value, page: 0 }); });
    this.pager.replaceChildren(prev, el("span", "pageno", "page " + (st.page + 1) + " of " +
                               pages), next, size);
  };
  View.prototype.card = function (i) {
    var d = this.d, st = this.state;
    var card = el("article", "seg");
    card.setAttribute("data-id", d.ids[i]);
    card.setAttribute("data-index", String(i));
    var head = el("div", "seg-head");
    head.appendChild(el("span", "segid", "segment " + d.ids[i]));
    head.appendChild(el("span", null, "#" + (i + 1)));
    if (st.sort !== "input") {
      var v = this.sortValue(i), what = st.sort === "diff" ? "B − A " : "A ";
      var txt = v === null ? "–" : (st.sort === "diff" && v > 0 ? "+" : "") + fmt(v);
      head.appendChild(el("span", "sortval", what + st.metric + ": " + txt));
    }
    card.appendChild(head);
    card.appendChild(this.field("source", d.src[i], "src"));
    d.refs[i].forEach(function (r, k) {
      card.appendChild(this.field(d.refs[i].length > 1 ? "reference " + (k + 1) : "reference",
                                  r, "ref"));
    }, this);
    var outs = el("div", "outputs");
    d.systems.forEach(function (name, s) { outs.appendChild(this.output(i, s)); }, this);
    card.appendChild(outs);
    return card;
  };
  View.prototype.field = function (label, text, cls) {
    var f = el("div", "field " + cls);
    f.appendChild(el("div", "lab", label));
    f.appendChild(el("div", "text", text));
    return f;
  };
  View.prototype.output = function (i, s) {
    var d = this.d, out = el("div", "out");
    out.setAttribute("data-system", String(s));
    out.style.borderTopColor = DATA.colors[d.colorIndex[s] % DATA.colors.length];
    var head = el("div", "out-head");
    head.appendChild(el("span", "name", d.systems[s]));
    this.metrics.forEach(function (m) {
      var v = d.scores[m][s] ? d.scores[m][s][i] : null;
      if (v !== null && v !== undefined) head.appendChild(el("span", "score", m + " " + fmt(v)));
    });
    (this.flags[s][i] || []).forEach(function (f) {
      head.appendChild(el("span", "flag", f.replace(/_/g, " ")));
    });
    out.appendChild(head);
    out.appendChild(renderDiff(d.hyp[s][i], d.refs[i][0]));
    var raw = d.raw[s] && d.raw[s][String(i)];
    if (raw !== undefined) {
      var det = el("details", "raw");
      det.appendChild(el("summary", null, "raw model output (before post-processing)"));
      det.appendChild(el("div", "text", raw));
      out.appendChild(det);
    }
    return out;
  };

  var views = {};
  DATA.views.forEach(function (data) {
    var root = document.getElementById("browser-" + data.key);
    if (root) views[data.key] = new View(data, root);
  });
  Array.prototype.forEach.call(document.querySelectorAll("td.flagcount"), function (td) {
    td.querySelector("button").addEventListener("click", function () {
      var v = views[td.getAttribute("data-view")];
      if (v) v.showFlag(td.getAttribute("data-flag"), +td.getAttribute("data-system"));
    });
  });
  // For tests and scripts/bench_report.py: when this script started and finished (ms).
  window.__report = { views: views, diffChars: diffChars, started: STARTED,
                      ready: performance.now() };
})();
