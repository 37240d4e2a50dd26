/* The workbench pages. Every value from the server or from a file (names, metadata)
   reaches the page through textContent or an attribute set by property, never as HTML. */
"use strict";
(function () {
  const t = (k, p) => window.I18N.t(k, p);
  // A message the page writes keeps what it says, not only how it reads: data-say holds
  // its [key, params] parts, so a language switch re-words it (see the onChange below).
  const worded = (parts) => parts.map(([k, p]) => t(k, p)).join(" ");
  function say(node, ...parts) {
    node.dataset.say = JSON.stringify(parts);
    node.textContent = worded(parts);
    return node;
  }
  const reword = () => document.querySelectorAll("[data-say]").forEach((n) => { n.textContent = worded(JSON.parse(n.dataset.say)); });
  const state = {
    config: null,
    portfolio: null,
    suspects: [], // {id, file, url, view, error}
    nextId: 1,
    lastReport: null,
    lastVerify: null,
  };

  // ---- small DOM helpers -------------------------------------------------------
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    if (attrs) {
      for (const [k, v] of Object.entries(attrs)) {
        if (v === undefined || v === null || v === false) continue;
        if (k === "class") node.className = v;
        else if (k === "text") node.textContent = v;
        else if (k === "on") for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
        else if (k in node && typeof v !== "string") node[k] = v;
        else node.setAttribute(k, v);
      }
    }
    for (const c of [].concat(children || [])) {
      if (c === null || c === undefined || c === false) continue;
      node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    }
    return node;
  }
  const svgNS = "http://www.w3.org/2000/svg";
  function svg(tag, attrs) {
    const node = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    return node;
  }
  function clear(node) {
    delete node.dataset.say; // a cleared message must not come back on a language switch
    while (node.firstChild) node.removeChild(node.firstChild);
  }
  const $ = (id) => document.getElementById(id);

  function fmt(x, digits) {
    if (x === null || x === undefined || Number.isNaN(x)) return "—";
    return Number(x).toFixed(digits === undefined ? 3 : digits);
  }
  function fmtP(p) {
    if (p === null || p === undefined) return "—";
    return p < 0.0001 ? "< 0.0001" : Number(p).toPrecision(2);
  }
  function fmtPct(pct) {
    if (pct === null || pct === undefined) return "—";
    return Number(pct).toFixed(pct >= 99.95 || pct < 0.05 ? 0 : 1) + "%";
  }

  // ---- server calls ------------------------------------------------------------
  async function api(path, options) {
    const resp = await fetch(path, Object.assign({ credentials: "same-origin" }, options || {}));
    if (resp.status === 401) { window.location.href = "/ui/login"; throw new Error("not signed in"); }
    let body = null;
    const type = resp.headers.get("content-type") || "";
    if (type.includes("application/json")) body = await resp.json();
    if (!resp.ok) {
      const detail = body && body.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : resp.status + " " + resp.statusText;
      const err = new Error(detail);
      err.status = resp.status;
      throw err;
    }
    return body;
  }

  function upload(path, form, onProgress) {
    // XMLHttpRequest, not fetch: only it reports upload progress.
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open("POST", path);
      xhr.responseType = "json";
      xhr.upload.addEventListener("progress", (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); });
      xhr.addEventListener("load", () => {
        if (xhr.status === 401) { window.location.href = "/ui/login"; return; }
        const body = xhr.response;
        if (xhr.status >= 200 && xhr.status < 300) resolve(body);
        else reject(new Error(body && body.detail ? String(body.detail) : xhr.status + " " + xhr.statusText));
      });
      xhr.addEventListener("error", () => reject(new Error("the connection to the workbench failed")));
      xhr.send(form);
    });
  }

  function banner(message, kind) {
    const b = $("banner");
    b.textContent = message || "";
    b.className = "banner" + (kind ? " " + kind : "");
    b.hidden = !message;
  }

  // ---- navigation ----------------------------------------------------------------
  const PAGES = ["portfolio", "check", "evidence", "verify"];
  function showPage() {
    const name = (window.location.hash || "#portfolio").slice(1);
    const page = PAGES.includes(name) ? name : "portfolio";
    for (const p of PAGES) $("page-" + p).hidden = p !== page;
    document.querySelectorAll(".tabs a").forEach((a) => a.classList.toggle("active", a.dataset.page === page));
    if (page === "evidence") renderEvidence();
    if (page === "check" && state.portfolio && !state.portfolio.ready) banner(t("no_index_check"), "warn");
    else banner("");
  }

  // ---- portfolio -----------------------------------------------------------------
  async function loadPortfolio() {
    state.portfolio = await api("/ui/api/portfolio");
    renderPortfolio();
  }

  function renderPortfolio() {
    const p = state.portfolio;
    if (!p) return;
    const status = $("index-status");
    clear(status);
    if (!p.ready) {
      status.appendChild(el("span", { text: t("index_none") }));
    } else {
      status.appendChild(el("span", { text: t("index_status", { works: p.count, backbone: p.backbone }) + " " }));
      const cal = p.calibration || {};
      const calibrated = cal.state === "calibrated";
      status.appendChild(el("span", {
        class: calibrated ? "ok-text" : "warn-text",
        text: calibrated ? t("cal_calibrated") : t("cal_uncalibrated", { reason: cal.state === "uncalibrated" ? t("reason_uncalibrated") : cal.reason || "" }),
      }));
    }
    const list = $("artist-list");
    clear(list);
    const groups = $("groups");
    clear(groups);
    for (const g of p.groups || []) {
      if (g.role === "artist") list.appendChild(el("option", { value: g.artist }));
      const key = g.role === "artist" ? "group_artist" : g.role === "background" ? "group_background" : "group_other";
      const head = el("h2", {}, [
        el("span", { text: t(key, { name: g.artist, role: g.role }) }),
        el("span", { class: "count", text: " · " + t("works_count", { n: g.total }) + (g.total > g.works.length ? " " + t("first_shown", { n: g.works.length }) : "") }),
      ]);
      const grid = el("div", { class: "grid" });
      for (const w of g.works) grid.appendChild(workTile(w));
      // Comparison works are many and rarely looked at: folded, one click away.
      const body = g.role === "artist" ? grid : el("details", {}, [el("summary", { text: t("show_works") }), grid]);
      groups.appendChild(el("div", { class: "card group group-" + (g.role === "artist" ? "artist" : "other"), "data-artist": g.artist }, [head, body]));
    }
    const refs = p.references || [];
    if (refs.length || p.references_error) groups.appendChild(referenceGroup(refs, p.references_error));
  }

  // Generator reference sets: shown, never changed here (they are not works).
  function referenceGroup(refs, error) {
    const list = el("ul", { class: "references" });
    for (const r of refs) {
      list.appendChild(el("li", { "data-reference": r.name, text: t("ref_line", { name: r.name, n: r.count, backbone: r.backbone }) }));
    }
    return el("div", { class: "card group group-other group-references" }, [
      el("h2", { text: t("group_references") }),
      el("p", { class: "muted", text: t("references_lead") }),
      error ? el("p", { class: "warn-text", text: t("references_error", { detail: error }) }) : null,
      list,
    ]);
  }

  function workTile(w) {
    const img = el("img", { src: "/ui/api/thumb/" + encodeURIComponent(w.sha256) + "?side=256", alt: w.name, loading: "lazy" });
    const remove = el("button", {
      type: "button", class: "remove", title: t("remove"), "aria-label": t("remove") + " " + w.name, text: "×",
      on: { click: () => removeWork(w) },
    });
    return el("figure", { class: "tile" }, [img, remove, el("figcaption", { text: w.name, title: w.name })]);
  }

  async function removeWork(w) {
    if (!window.confirm(t("remove_confirm", { name: w.name }))) return;
    try {
      await api("/ui/api/works/" + encodeURIComponent(w.sha256), { method: "DELETE" });
      say($("works-result"), ["removed", { name: w.name }]);
      await loadPortfolio();
    } catch (e) {
      say($("works-result"), ["error_generic", { detail: e.message }]);
    }
  }

  function batches(files) {
    // Requests stay under the server's size limit (with room for the form around them).
    const limit = Math.floor(state.config.max_request_bytes * 0.9) - 64 * 1024;
    const out = [];
    let cur = [], size = 0;
    for (const f of files) {
      if (cur.length && (size + f.size > limit || cur.length >= state.config.max_work_uploads)) {
        out.push(cur); cur = []; size = 0;
      }
      cur.push(f); size += f.size;
    }
    if (cur.length) out.push(cur);
    return out;
  }

  async function addWorks(fileList) {
    const result = $("works-result");
    result.className = "result-msg";
    clear(result);
    const artist = $("artist-name").value.trim();
    if (!artist) { say(result, ["need_artist"]); result.classList.add("error"); $("artist-name").focus(); return; }
    const mb = state.config.max_request_bytes / (1024 * 1024);
    const files = [], lines = [];
    for (const f of fileList) {
      if (f.size > state.config.max_request_bytes * 0.9 - 64 * 1024) lines.push(["skipped_one", { name: f.name, reason: t("too_large", { mb: fmt(mb, 0) }) }]);
      else files.push(f);
    }
    const total = files.reduce((s, f) => s + f.size, 0);
    const bar = $("works-bar"), text = $("works-progress-text");
    $("works-progress").hidden = files.length === 0;
    let sent = 0, done = 0, added = 0, already = 0;
    for (const batch of batches(files)) {
      const form = new FormData();
      for (const f of batch) form.append("files", f, f.name);
      form.append("artist", artist);
      form.append("role", $("role").value);
      const batchBytes = batch.reduce((s, f) => s + f.size, 0);
      text.textContent = t("uploading", { done: done + batch.length, total: files.length });
      try {
        const r = await upload("/ui/api/works", form, (loaded, all) => {
          bar.value = Math.min(99, (100 * (sent + (batchBytes * loaded) / all)) / Math.max(1, total));
          if (loaded >= all) text.textContent = t("indexing");
        });
        added += r.added; already += r.already_indexed;
        for (const s of r.skipped) lines.push(["skipped_one", { name: s.name, reason: s.reason }]);
        for (const c of r.conflicts) lines.push(["conflict_one", { name: c.name, artist: c.artist }]);
      } catch (e) {
        lines.push(["error_generic", { detail: e.message }]);
      }
      sent += batchBytes; done += batch.length;
      bar.value = (100 * sent) / Math.max(1, total);
    }
    $("works-progress").hidden = true;
    result.appendChild(say(el("p", { class: "ok-line" }), ["added", { added: added }], ...(already ? [["already", { n: already }]] : [])));
    for (const line of lines) result.appendChild(say(el("p", { class: "error-line" }), line));
    await loadPortfolio();
    const group = Array.from(document.querySelectorAll("#groups .group")).find((g) => g.dataset.artist === artist);
    if (group && added) group.classList.add("fresh");
  }

  // ---- check -----------------------------------------------------------------------
  async function checkFiles(fileList) {
    $("check-actions").hidden = false;
    const jobs = [];
    for (const file of fileList) {
      const s = { id: state.nextId++, file: file, url: URL.createObjectURL(file), view: null, error: null, busy: true };
      state.suspects.push(s);
      jobs.push(s);
    }
    renderResults();
    for (const s of jobs) {
      try {
        if (s.file.size > state.config.max_request_bytes - 64 * 1024) {
          throw new Error(t("too_large", { mb: fmt(state.config.max_request_bytes / 1048576, 0) }));
        }
        const form = new FormData();
        form.append("file", s.file, s.file.name);
        s.view = await api("/ui/api/check", { method: "POST", body: form });
      } catch (e) {
        s.error = e.status === 409 ? t("no_index_check") : e.message;
      }
      s.busy = false;
      renderResults();
    }
  }

  function renderResults() {
    const box = $("results");
    clear(box);
    for (const s of state.suspects) box.appendChild(resultCard(s));
    $("check-actions").hidden = state.suspects.length === 0;
  }

  function verdict(view) {
    const top = view.ranking && view.ranking[0];
    if (!top) return { cls: "undecided", text: t("verdict_none") };
    const fpr = fmtPct(100 * top.target_fpr);
    if (top.decision === true) return { cls: "match", text: t("verdict_match", { artist: top.artist, pct: fmtPct(top.percentile), p: fmtP(top.p_value), fpr: fpr }) };
    if (top.decision === false) return { cls: "nomatch", text: t("verdict_no", { artist: top.artist, p: fmtP(top.p_value) }) };
    return { cls: "undecided", text: t("verdict_undecided", { artist: top.artist, reason: reasonText(top) || view.note || "" }) };
  }

  // The library's reason codes in the page's language; any other reason is its own text.
  function reasonText(r) {
    if (r.reason_code === "uncalibrated") return t("reason_uncalibrated");
    if (r.reason_code === "too_few_impostors") {
      return t("reason_too_few", { n: r.n_impostors, needed: r.needed_impostors, fpr: fmtPct(100 * r.target_fpr) });
    }
    return r.reason || "";
  }

  function decisionLabel(d) {
    return d === true ? t("decision_yes") : d === false ? t("decision_no") : t("decision_null");
  }

  function resultCard(s) {
    const card = el("article", { class: "card result", "data-suspect": s.file.name });
    const head = el("div", { class: "result-head" }, [
      el("img", { class: "suspect-thumb", src: s.url, alt: s.file.name }),
      el("div", {}, [el("h2", { class: "suspect-name", text: s.file.name, title: s.file.name })]),
    ]);
    card.appendChild(head);
    if (s.busy) { head.lastChild.appendChild(el("p", { class: "muted", text: t("checking") })); return card; }
    if (s.error) { head.lastChild.appendChild(el("p", { class: "error-line", text: t("check_failed", { detail: s.error }) })); return card; }
    const view = s.view;
    const v = verdict(view);
    // A copy finding comes first, and no style badge may read as clearing the image.
    if (view.copy) {
      head.lastChild.appendChild(el("p", { class: "verdict match", text: t("copy_verdict", { name: view.copy.source_name || "?" }) }));
      card.appendChild(copyBlock(s, view.copy));
      card.appendChild(el("p", { class: "verdict style-only " + (v.cls === "match" ? "match" : ""), text: t("style_prefix") + " " + v.text }));
    } else {
      head.lastChild.appendChild(el("p", { class: "verdict " + v.cls, text: v.text }));
      const cc = view.copy_check;
      if (cc && cc.state === "no_copy") head.lastChild.appendChild(el("p", { class: "muted", text: t("copy_none") }));
      if (cc && cc.state === "not_checked") head.lastChild.appendChild(el("p", { class: "muted", text: t("copy_not_checked", { reason: cc.reason || "" }) }));
    }
    card.classList.toggle("has-copy", Boolean(view.copy));
    card.appendChild(rankingTable(view));
    card.appendChild(nearestWorks(s, view));
    const first = view.ranking && view.ranking[0];
    if (first && view.charts && view.charts[first.artist]) card.appendChild(chart(first.artist, view.charts[first.artist]));
    card.appendChild(provenance(view.provenance));
    return card;
  }

  function rankingTable(view) {
    const wrap = el("div", { class: "ranking" }, [el("h3", { text: t("ranking_title") })]);
    const table = el("table", { class: "rank-table" });
    table.appendChild(el("thead", {}, el("tr", {}, [
      el("th", { text: t("col_artist") }), el("th", { text: t("col_relative") }),
      el("th", { text: t("col_p") }), el("th", { text: t("col_decision") }),
    ])));
    const body = el("tbody");
    view.ranking.slice(0, 5).forEach((r, i) => {
      const details = el("details", { class: "explain" }, [el("summary", { text: t("explain") })]);
      const lines = [
        r.threshold !== null ? t(r.null ? "ex_contrastive" : "ex_relative", { v: fmt(r.score), thr: fmt(r.threshold) }) : t(r.null ? "ex_contrastive_nothr" : "ex_relative_nothr", { v: fmt(r.score) }),
        t("ex_p", { p: fmtP(r.p_value) }),
        r.percentile !== null ? t("ex_pct", { pct: fmtPct(r.percentile), n: r.n_impostors }) : null,
        r.genuine_percentile !== null ? t("ex_genuine", { pct: fmtPct(r.genuine_percentile), n: r.n_genuine }) : null,
        t("ex_similarity", { v: fmt(r.similarity) }),
        reasonText(r) ? t("ex_reason", { reason: reasonText(r) }) : null,
      ];
      for (const line of lines) if (line) details.appendChild(el("p", { text: line }));
      body.appendChild(el("tr", { class: i === 0 ? "first-row" : "" }, [
        el("td", {}, [el("span", { class: "artist", text: r.artist }), details]),
        el("td", { class: "num", text: fmt(r.score) }),
        el("td", { class: "num", text: fmtP(r.p_value) }),
        el("td", {}, el("span", { class: "badge " + (r.decision === true ? "match" : r.decision === false ? (view.copy ? "plain" : "nomatch") : "undecided"), text: decisionLabel(r.decision) })),
      ]));
    });
    table.appendChild(body);
    wrap.appendChild(table);
    return wrap;
  }

  function nearestWorks(s, view) {
    const wrap = el("div", { class: "nearest" }, [el("h3", { text: t("nearest_title") })]);
    const row = el("div", { class: "near-row" });
    const panel = el("div", { class: "compare", hidden: true });
    for (const m of view.matches) {
      const open = () => openCompare(panel, s, m);
      const tile = el("figure", { class: "tile near" }, [
        el("img", { src: "/ui/api/thumb/" + encodeURIComponent(m.sha256) + "?side=256", alt: m.name, loading: "lazy" }),
        el("figcaption", {}, [
          el("span", { class: "artist", text: m.artist }),
          el("span", { class: "muted", text: " · " + fmt(m.similarity) }),
          m.near_duplicate ? el("span", { class: "badge match", text: t("near_dup") }) : null,
        ]),
        el("button", { type: "button", class: "small side-btn", text: t("side_by_side"), on: { click: open } }),
      ]);
      row.appendChild(tile);
    }
    wrap.appendChild(row);
    wrap.appendChild(panel);
    return wrap;
  }

  function figure(src, caption, box) {
    const frame = el("div", { class: "frame" }, [el("img", { src: src, alt: caption })]);
    if (box) {
      const outline = el("div", { class: "outline" });
      outline.style.left = 100 * box[0] + "%";
      outline.style.top = 100 * box[1] + "%";
      outline.style.width = 100 * (box[2] - box[0]) + "%";
      outline.style.height = 100 * (box[3] - box[1]) + "%";
      frame.appendChild(outline);
    }
    return el("figure", { class: "big" }, [frame, el("figcaption", { text: caption })]);
  }

  function openCompare(panel, s, m) {
    clear(panel);
    panel.hidden = false;
    panel.appendChild(el("div", { class: "pair" }, [
      figure(s.url, t("suspect_label") + ": " + s.file.name, null),
      figure("/ui/api/thumb/" + encodeURIComponent(m.sha256) + "?side=1024", t("work_label", { name: m.name, artist: m.artist }), null),
    ]));
    panel.appendChild(el("p", { class: "muted", text: t("similarity_label", { v: fmt(m.similarity) }) + (m.phash_distance !== null ? " · " + t("phash_label", { v: m.phash_distance }) : "") }));
    panel.appendChild(el("button", { type: "button", class: "small", text: t("close"), on: { click: () => { panel.hidden = true; clear(panel); } } }));
    panel.scrollIntoView({ block: "nearest" });
  }

  function copyBlock(s, c) {
    const box = el("div", { class: "copy-finding" }, [
      el("h3", { text: t("copy_title", { name: c.source_name || c.source_sha256 || "?" }) + (c.source_artist ? " " + t("copy_artist", { artist: c.source_artist }) : "") }),
    ]);
    const facts = [
      c.signal ? t("copy_signal", { signal: c.signal.split("+").map((x) => t("signal_" + x)).join(" + ") }) : null,
      c.transform ? t("copy_transform", { transform: transformWords(c.transform) }) : null,
      c.confidence !== null && c.confidence !== undefined ? t("copy_confidence", { v: fmtPct(100 * c.confidence) }) : null,
      c.p_value !== null && c.p_value !== undefined ? "p = " + fmtP(c.p_value) : null,
    ].filter(Boolean);
    if (facts.length) box.appendChild(el("p", { text: facts.join(" · ") }));
    const pair = el("div", { class: "pair" }, [figure(s.url, t("suspect_label"), c.suspect_box)]);
    if (c.source_sha256) pair.appendChild(figure("/ui/api/thumb/" + encodeURIComponent(c.source_sha256) + "?side=1024", c.source_name || "", c.source_box));
    box.appendChild(pair);
    if (c.suspect_box || c.source_box) box.appendChild(el("p", { class: "muted", text: t("copy_region") }));
    return box;
  }

  function transformWords(tr) {
    if (typeof tr === "string") return tr;
    const parts = [];
    if (typeof tr.rotation_degrees === "number" && Math.abs(tr.rotation_degrees) >= 0.5) parts.push(t("tr_rotated", { v: fmt(tr.rotation_degrees, 1) }));
    if (typeof tr.scale === "number" && Math.abs(tr.scale - 1) >= 0.02) parts.push(t("tr_scaled", { v: fmt(tr.scale, 2) }));
    if (tr.mirrored === true) parts.push(t("tr_mirrored"));
    return parts.length ? parts.join(", ") : t("tr_none");
  }

  function chart(artist, data) {
    const wrap = el("div", { class: "chart" }, [el("h3", { text: t("chart_title", { artist: artist }) })]);
    const h = data.histogram;
    if (!h) return wrap;
    const W = 560, H = 150, pad = 22;
    const root = svg("svg", { viewBox: "0 0 " + W + " " + (H + 4), width: W, height: H + 4, role: "img" });
    root.appendChild(svg("title", {})).textContent = t("chart_explain", { artist: artist });
    const lo = h.edges[0], hi = h.edges[h.edges.length - 1];
    const x = (v) => pad + ((v - lo) / (hi - lo)) * (W - 2 * pad);
    const n = h.impostor.length;
    const maxI = Math.max(1, ...h.impostor), maxG = Math.max(1, ...h.genuine);
    const bw = (W - 2 * pad) / n;
    for (let i = 0; i < n; i++) {
      const hi_ = (H - 10) * (h.impostor[i] / maxI), hg = (H - 10) * (h.genuine[i] / maxG);
      if (hi_ > 0) root.appendChild(svg("rect", { x: pad + i * bw, y: H - hi_, width: bw - 1, height: hi_, class: "bar-imp" }));
      if (hg > 0) root.appendChild(svg("rect", { x: pad + i * bw + bw * 0.25, y: H - hg, width: bw * 0.5, height: hg, class: "bar-gen" }));
    }
    root.appendChild(svg("line", { x1: pad, x2: W - pad, y1: H, y2: H, class: "axis" }));
    if (data.threshold !== null && data.threshold !== undefined) {
      root.appendChild(svg("line", { x1: x(data.threshold), x2: x(data.threshold), y1: 4, y2: H, class: "thr" }));
    }
    if (data.score !== null && data.score !== undefined) {
      root.appendChild(svg("line", { x1: x(data.score), x2: x(data.score), y1: 0, y2: H, class: "mark" }));
    }
    wrap.appendChild(root);
    const legend = el("p", { class: "legend-row" });
    for (const [cls, label] of [["sw-imp", t("chart_impostor")], ["sw-gen", t("chart_genuine")], ["sw-mark", t("chart_this")], ["sw-thr", t("chart_threshold")]]) {
      legend.appendChild(el("span", { class: "key" }, [el("span", { class: "swatch " + cls }), label]));
    }
    wrap.appendChild(legend);
    wrap.appendChild(el("p", { class: "muted", text: t("chart_explain", { artist: artist }) }));
    return wrap;
  }

  function provenance(p) {
    const wrap = el("div", { class: "provenance" }, [el("h3", { text: t("prov_title") })]);
    wrap.appendChild(el("p", {
      class: p.ai_indicators.length ? "warn-text" : "muted",
      text: p.ai_indicators.length ? t("prov_ai", { list: p.ai_indicators.join("; ") }) : t("prov_none_ai"),
    }));
    const list = el("ul", { class: "signals" });
    for (const s of p.signals) {
      const item = el("li", { class: s.found ? "found" : "" }, [
        el("span", { class: "kind", text: t("kind_" + s.kind) }),
        el("span", { class: "badge " + (s.found ? "undecided" : "plain"), text: s.found ? t("prov_found") : t("prov_not_found") }),
        s.found ? el("span", { class: "summary", text: s.summary }) : null,
      ]);
      if (s.fields) item.appendChild(el("details", {}, [el("summary", { text: t("prov_details") }), el("pre", { text: s.fields })]));
      list.appendChild(item);
    }
    wrap.appendChild(list);
    return wrap;
  }

  // ---- evidence -------------------------------------------------------------------
  function renderEvidence() {
    const files = state.suspects.filter((s) => s.view);
    const list = $("evidence-files");
    clear(list);
    for (const s of files) list.appendChild(el("li", {}, [el("img", { src: s.url, alt: "" }), el("span", { text: s.file.name })]));
    $("evidence-empty").hidden = files.length > 0;
    const select = $("ev-artist");
    const current = select.value;
    clear(select);
    const artists = ((state.portfolio && state.portfolio.groups) || []).filter((g) => g.role === "artist").map((g) => g.artist);
    for (const a of artists) select.appendChild(el("option", { value: a, text: a }));
    const suggested = files.length && files[0].view.ranking.length ? files[0].view.ranking[0].artist : null;
    // The person's own choice stands; otherwise suggest the closest artist of the first image.
    if (select.dataset.touched && artists.includes(current)) select.value = current;
    else if (suggested && artists.includes(suggested)) select.value = suggested;
    if (!$("ev-lang").dataset.touched) $("ev-lang").value = "both";
  }

  async function writeReport() {
    const files = state.suspects.filter((s) => s.view);
    const error = $("report-error");
    clear(error);
    if (!files.length) { say(error, ["need_images"]); return; }
    const form = new FormData();
    for (const s of files) form.append("files", s.file, s.file.name);
    form.append("artist", $("ev-artist").value);
    form.append("lang", $("ev-lang").value);
    for (const [field, id] of [["case_id", "ev-case"], ["claimant", "ev-claimant"], ["respondent", "ev-respondent"]]) {
      const v = $(id).value.trim();
      if (v) form.append(field, v);
    }
    $("write-report").disabled = true;
    $("report-busy").hidden = false;
    $("report-result").hidden = true;
    try {
      const r = await api("/ui/api/report", { method: "POST", body: form });
      state.lastReport = r;
      showReport(r);
    } catch (e) {
      say(error, ["report_failed", { detail: e.message }]);
    } finally {
      $("write-report").disabled = false;
      $("report-busy").hidden = true;
    }
  }

  function showReport(r) {
    $("report-result").hidden = false;
    $("report-digest").textContent = r.digest;
    const box = $("downloads");
    clear(box);
    const names = { "report.html": "dl_html", "report.pdf": "dl_pdf", "evidence.json": "dl_json" };
    for (const f of ["report.html", "report.pdf", "evidence.json"]) {
      if (!r.files.includes(f)) continue;
      box.appendChild(el("a", {
        class: "button download", href: "/ui/api/reports/" + encodeURIComponent(r.report_id) + "/" + f,
        download: r.report_id + "-" + f, "data-file": f, text: t("download", { what: t(names[f]) }),
      }));
    }
    $("pdf-note").textContent = r.pdf_note || "";
  }

  // Full paths make the table unreadable; the file name is what a person recognises.
  function shortPaths(text) {
    return String(text).split(" ").map((w) => (w.includes("/") ? w.slice(w.lastIndexOf("/") + 1) || w : w)).join(" ");
  }

  // ---- verify -----------------------------------------------------------------------
  async function verifyFile(file) {
    const out = $("verify-result");
    clear(out);
    state.lastVerify = null;
    $("verify-busy").hidden = false;
    try {
      const form = new FormData();
      form.append("file", file, file.name);
      state.lastVerify = await api("/ui/api/verify", { method: "POST", body: form });
      renderVerify(state.lastVerify);
    } catch (e) {
      out.appendChild(el("p", { class: "error-line", text: t("verify_failed", { detail: e.message }) }));
    } finally {
      $("verify-busy").hidden = true;
    }
  }

  function renderVerify(r) {
    const out = $("verify-result");
    clear(out);
    const failing = r.checks.filter((c) => ["changed", "missing", "refused", "error"].includes(c.status));
    out.appendChild(el("p", { class: "verdict " + (r.ok ? "ok" : "match"), id: "verify-verdict", "data-ok": r.ok ? "yes" : "no", text: r.ok ? t("verify_ok") : t("verify_bad", { n: failing.length }) }));
    const table = el("table", { class: "checks" });
    table.appendChild(el("thead", {}, el("tr", {}, ["col_area", "col_subject", "col_status", "col_detail"].map((k) => el("th", { text: t(k) })))));
    const body = el("tbody");
    const ordered = failing.concat(r.checks.filter((c) => !failing.includes(c)));
    for (const c of ordered) {
      body.appendChild(el("tr", { class: "st-" + c.status }, [
        el("td", { "data-area": c.area, text: window.I18N.has("area_" + c.area) ? t("area_" + c.area) : c.area }),
        el("td", { class: "subject", text: shortPaths(c.subject), title: c.subject }),
        el("td", {}, el("span", { class: "badge st-" + c.status, text: t("status_" + c.status) })), el("td", { text: c.detail }),
      ]));
    }
    table.appendChild(body);
    out.appendChild(table);
  }

  // ---- wiring -------------------------------------------------------------------------
  function dropZone(zoneId, inputId, onFiles) {
    const zone = $(zoneId), input = $(inputId);
    input.addEventListener("change", () => { if (input.files.length) onFiles(Array.from(input.files)); input.value = ""; });
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (e.dataTransfer && e.dataTransfer.files.length) onFiles(Array.from(e.dataTransfer.files));
    });
  }

  async function start() {
    state.config = await api("/ui/api/config");
    $("version").textContent = "simdetect " + state.config.version;
    $("logout-form").hidden = !state.config.auth;
    dropZone("works-drop", "works-input", addWorks);
    dropZone("suspect-drop", "suspect-input", checkFiles);
    dropZone("verify-drop", "verify-input", (files) => verifyFile(files[0]));
    $("to-evidence").addEventListener("click", () => { window.location.hash = "#evidence"; });
    $("clear-suspects").addEventListener("click", () => {
      for (const s of state.suspects) URL.revokeObjectURL(s.url);
      state.suspects = [];
      renderResults();
    });
    $("write-report").addEventListener("click", writeReport);
    $("ev-lang").addEventListener("change", () => { $("ev-lang").dataset.touched = "1"; });
    $("ev-artist").addEventListener("change", () => { $("ev-artist").dataset.touched = "1"; });
    // Stop a file dropped outside a drop zone from replacing the page.
    window.addEventListener("dragover", (e) => e.preventDefault());
    window.addEventListener("drop", (e) => e.preventDefault());
    window.addEventListener("hashchange", showPage);
    window.I18N.onChange(() => {
      reword();
      renderPortfolio(); renderResults(); renderEvidence();
      if (state.lastReport) showReport(state.lastReport);
      if (state.lastVerify) renderVerify(state.lastVerify);
    });
    await loadPortfolio();
    showPage();
    document.body.dataset.ready = "yes";
  }

  document.addEventListener("DOMContentLoaded", () => {
    start().catch((e) => banner(t("error_generic", { detail: e.message }), "error"));
  });
})();
