/* repool: offline stand-in for the scripts great_expectations Data Docs load from public CDNs
   (jquery, popper, bootstrap, bootstrap-table, datepicker, vega). tasks/gx_checkpoint.py inlines
   this file into every built page. It implements only the few jQuery calls the Data Docs pages
   make: bootstrapTable({columns, data}) renders a plain HTML table (the index page keeps its rows
   in an inline script), the "Failed only" filter shows/hides elements, and the remaining calls
   (modal, tooltips, events) do nothing. It requests nothing. */
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState === "loading") {
      document.addEventListener("DOMContentLoaded", fn);
    } else {
      fn();
    }
  }

  function Wrap(nodes) {
    this.nodes = nodes.filter(function (n) { return n; });
    this.length = this.nodes.length;
  }

  function $(sel) {
    if (typeof sel === "function") { onReady(sel); return new Wrap([]); }
    if (sel instanceof Wrap) { return sel; }
    if (typeof sel === "string") {
      try { return new Wrap(Array.prototype.slice.call(document.querySelectorAll(sel))); }
      catch (e) { return new Wrap([]); }
    }
    return new Wrap(sel && (sel.nodeType || sel === window) ? [sel] : []);
  }

  function cell(value) {
    return value === undefined || value === null ? "" : String(value);
  }

  function renderTable(table, opts) {
    var columns = opts.columns || [];
    var rows = (opts.data || []).slice();
    if (opts.sortName) {
      var key = opts.sortName;
      columns.forEach(function (c) { if (c.field === opts.sortName && c.sortName) { key = c.sortName; } });
      var desc = opts.sortOrder === "desc" ? -1 : 1;
      rows.sort(function (a, b) { return (a[key] > b[key] ? 1 : a[key] < b[key] ? -1 : 0) * desc; });
    }
    var html = "<thead><tr>";
    columns.forEach(function (c) { html += "<th>" + cell(c.title) + "</th>"; });
    html += "</tr></thead><tbody>";
    rows.forEach(function (row) {
      var link = row._table_row_link_path;
      html += link ? '<tr class="clickable-row" data-href="' + cell(link).replace(/"/g, "&quot;") + '">' : "<tr>";
      columns.forEach(function (c, i) {
        var content = cell(row[c.field]);
        if (i === 0 && link) {  /* a real link too, not only the row click */
          content = '<a href="' + cell(link).replace(/"/g, "&quot;") + '">' + content +
                    (row._validation_success_text ? " " + cell(row._validation_success_text) : "") + "</a>";
        }
        html += "<td>" + content + "</td>";
      });
      html += "</tr>";
    });
    table.innerHTML = html + "</tbody>";
    Array.prototype.forEach.call(table.querySelectorAll("tr.clickable-row"), function (tr) {
      tr.addEventListener("click", function (ev) {
        if (ev.target.closest && ev.target.closest("a")) { return; }
        window.location.href = tr.getAttribute("data-href");
      });
    });
  }

  Wrap.prototype.bootstrapTable = function (opts) {
    if (opts && typeof opts === "object") {
      this.nodes.forEach(function (t) { renderTable(t, opts); });
    }
    return this;  // method calls such as 'clearFilterControl' have nothing to do
  };
  Wrap.prototype.each = function (fn) {
    this.nodes.forEach(function (n, i) { fn.call(n, i, n); });
    return this;
  };
  Wrap.prototype.parent = function () {
    return new Wrap(this.nodes.map(function (n) { return n.parentElement; }));
  };
  Wrap.prototype.show = Wrap.prototype.fadeIn = function () {
    this.nodes.forEach(function (n) { if (n.style) { n.style.display = ""; } });
    return this;
  };
  Wrap.prototype.hide = Wrap.prototype.fadeOut = function () {
    this.nodes.forEach(function (n) { if (n.style) { n.style.display = "none"; } });
    return this;
  };
  Wrap.prototype.addClass = function (c) {
    this.nodes.forEach(function (n) { if (n.classList) { n.classList.add(c); } });
    return this;
  };
  Wrap.prototype.removeClass = function (c) {
    this.nodes.forEach(function (n) { if (n.classList) { n.classList.remove(c); } });
    return this;
  };
  Wrap.prototype.data = function (k) {
    var n = this.nodes[0];
    return n && n.getAttribute ? n.getAttribute("data-" + k) : undefined;
  };
  Wrap.prototype.ready = function (fn) { onReady(fn); return this; };
  ["on", "off", "modal", "tooltip", "popover", "collapse", "tab", "alert", "datepicker"].forEach(function (m) {
    Wrap.prototype[m] = function () { return this; };
  });

  window.$ = window.jQuery = $;
  window.vegaEmbed = function () { return Promise.resolve(); };  // charts are not rendered offline
})();
