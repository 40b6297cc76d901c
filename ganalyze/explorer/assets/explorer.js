// ganalyze explorer: the page logic. Reads window.EXPLORER_DATA (data.js, written by ganalyze-explore) and draws
// the three steps (runs, class, α columns), one block of images per chosen run, the details of a clicked image
// and each run's metrics. No network, no library: it runs from file://.
"use strict";

(function () {
  const D = window.EXPLORER_DATA;
  const $ = (id) => document.getElementById(id);
  if (!D) {
    $("blocks").textContent = "data.js is missing or broken: rebuild the site with ganalyze-explore.";
    return;
  }
  const SVG = "http://www.w3.org/2000/svg";
  const SEARCH_FROM = 17; // class lists longer than this get a search box over every name
  const MAX_RESULTS = 80;

  /** An element with attributes (on* are listeners) and children (strings become text). */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "className") node.className = v;
      else if (v !== false && v !== null && v !== undefined) node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const child of children) node.append(child instanceof Node ? child : String(child));
    return node;
  }

  const fmtScore = (v) => (v === null || v === undefined || Number.isNaN(v) ? "n/a" : Number(v).toPrecision(4));
  const fmtNum = (v, digits) => (typeof v !== "number" || Number.isNaN(v) ? "n/a" : v.toFixed(digits));
  const fmtAlpha = (v) => (v > 0 ? "+" : v < 0 ? "−" : "") + String(Number(Math.abs(v).toPrecision(3)));

  const runs = new Map(D.runs.map((r) => [r.id, r]));
  const cellKey = (run, cls, s, a) => `${run}|${cls}|${s}|${a}`;
  const cells = new Map(D.records.map((r) => [cellKey(r.run, r.class, r.seed_index, r.alpha_index), r]));
  const state = { group: 0, runs: [], cls: null, alphas: new Set(), query: "", picked: null };

  const group = () => D.groups[state.group];
  const chosen = () => state.runs.map((id) => runs.get(id));
  const runTitle = (run) => `${run.assessor} · ${run.objective}`;
  const className = (id) => {
    const names = group().classNames;
    return names ? `${names[id]} (class ${id})` : `class ${id}`;
  };

  // α columns line up across runs by their position relative to the trained range (α / max |bound|).
  const halfWidth = (run) => Math.max(Math.abs(run.alphaRange[0]), Math.abs(run.alphaRange[1])) || 1;
  const alphaKey = (run, j) => (run.alphas[j] / halfWidth(run)).toFixed(4);
  const alphaIndex = (run, key) => run.alphas.findIndex((_, j) => alphaKey(run, j) === key);
  const sameGrids = () => chosen().every((r) => JSON.stringify(r.alphas) === JSON.stringify(chosen()[0].alphas));

  function allKeys() {
    const keys = new Set();
    for (const run of chosen()) run.alphas.forEach((_, j) => keys.add(alphaKey(run, j)));
    return [...keys].sort((a, b) => Number(a) - Number(b));
  }

  function keyInside(key) {
    return chosen().some((run) => {
      const j = alphaIndex(run, key);
      return j >= 0 && run.inside[j];
    });
  }

  function keyLabel(key) {
    if (sameGrids() && chosen().length) return `α ${fmtAlpha(chosen()[0].alphas[alphaIndex(chosen()[0], key)])}`;
    return `${fmtAlpha(Number(key))} × range`;
  }

  // ---- step 1: runs (and the generator, when the runs use several) ----
  function renderGenerators() {
    const box = $("generators");
    box.replaceChildren();
    if (D.groups.length < 2) return;
    D.groups.forEach((g, i) => {
      const input = el("input", { type: "radio", name: "generator", value: i, checked: i === state.group,
        onchange: () => selectGroup(i) });
      box.append(el("label", {}, input, ` ${g.generator}`));
    });
  }

  function renderRuns() {
    const box = $("runs");
    box.replaceChildren();
    for (const id of group().runs) {
      const run = runs.get(id);
      const input = el("input", { type: "checkbox", id: `run-${id}`, value: id, checked: state.runs.includes(id),
        onchange: (e) => toggleRun(id, e.target.checked) });
      box.append(el("label", { className: "run", for: `run-${id}` }, input,
        el("span", {}, el("span", { className: "what" }, runTitle(run)),
          el("br"), el("span", { className: "where" },
            `${run.generator} · ${run.transformer} · α ∈ [${fmtAlpha(run.alphaRange[0])}, ${fmtAlpha(run.alphaRange[1])}] · ${run.name}`))));
    }
  }

  function toggleRun(id, on) {
    const keep = new Set(state.runs);
    if (on) keep.add(id); else keep.delete(id);
    state.runs = group().runs.filter((r) => keep.has(r));
    const keys = allKeys();
    state.alphas = new Set([...state.alphas].filter((k) => keys.includes(k)));
    if (!state.alphas.size) state.alphas = new Set(keys);
    renderAlphas();
    renderBlocks();
    renderMetrics();
    if (state.picked) showDetails(state.picked);
  }

  function selectGroup(i) {
    state.group = i;
    state.runs = [...group().runs];
    state.cls = group().classes[0].id;
    state.query = "";
    state.alphas = new Set(allKeys());
    closeDetails();
    renderAll();
  }

  // ---- step 2: class ----
  function renderClasses() {
    const g = group();
    const drawn = new Set(g.classes.map((c) => c.id));
    const search = $("class-search");
    const searchable = g.classNames && g.classNames.length >= SEARCH_FROM;
    search.hidden = !searchable;
    const box = $("classes");
    box.replaceChildren();
    let shown = g.classes.map((c) => c.id);
    let note = "";
    if (searchable && state.query.trim()) {
      const q = state.query.trim().toLowerCase();
      const hits = g.classNames.map((name, id) => ({ name, id }))
        .filter((c) => c.name.toLowerCase().includes(q) || String(c.id) === q);
      hits.sort((a, b) => Number(drawn.has(b.id)) - Number(drawn.has(a.id)) || a.id - b.id);
      shown = hits.slice(0, MAX_RESULTS).map((c) => c.id);
      const inSite = hits.filter((c) => drawn.has(c.id)).length;
      note = `${hits.length} of ${g.classNames.length} class names match "${state.query.trim()}"; ${inSite} of them ` +
        "drawn in this site (dashed: rebuild with classes=[...] to draw them).";
    } else if (searchable) {
      note = `${g.classes.length} of ${g.classNames.length} classes drawn; search all ${g.classNames.length} names above.`;
    }
    for (const id of shown) {
      const isDrawn = drawn.has(id);
      box.append(el("button", { type: "button", className: `chip${id === state.cls ? " on" : ""}`, "data-class": id,
        disabled: !isDrawn, title: isDrawn ? className(id) : `${className(id)}: not drawn in this site`,
        onclick: () => { state.cls = id; renderClasses(); renderBlocks(); } }, g.classNames ? g.classNames[id] : String(id)));
    }
    $("class-note").textContent = note;
  }

  // ---- step 3: α columns ----
  function renderAlphas() {
    const box = $("alphas");
    box.replaceChildren();
    for (const key of allKeys()) {
      box.append(el("button", { type: "button", "data-key": key,
        className: `chip${state.alphas.has(key) ? " on" : ""}${keyInside(key) ? " inside" : ""}`,
        onclick: () => {
          if (state.alphas.has(key)) state.alphas.delete(key); else state.alphas.add(key);
          renderAlphas();
          renderBlocks();
        } }, keyLabel(key)));
    }
  }

  // ---- the image blocks: one per chosen run, rows = seeds, columns = chosen α ----
  function renderBlocks() {
    const main = $("blocks");
    main.replaceChildren();
    if (!state.runs.length) {
      main.append(el("p", { className: "empty" }, "Choose at least one run in step 1."));
      return;
    }
    const keys = allKeys().filter((k) => state.alphas.has(k));
    if (!keys.length) {
      main.append(el("p", { className: "empty" }, "Choose at least one α column in step 3."));
      return;
    }
    for (const run of chosen()) main.append(block(run, keys));
  }

  function block(run, keys) {
    const g = group();
    const columns = keys.map((k) => alphaIndex(run, k));
    const head = el("tr", {}, el("th", {}, ""), columns.map((j) => (j < 0
      ? el("th", {}, "—")
      : el("th", { className: run.inside[j] ? "inside" : "" }, `α ${fmtAlpha(run.alphas[j])}`))));
    const rows = g.seeds.map((seed, s) => el("tr", {}, el("th", { title: `held-out seed ${seed}` }, `seed #${s}`),
      columns.map((j) => {
        const rec = j < 0 ? null : cells.get(cellKey(run.id, state.cls, s, j));
        if (!rec) return el("td", {}, el("div", { className: "missing" }, "not in this run's grid"));
        const fig = el("figure", { "data-run": run.id, "data-seed": s, "data-alpha": j, onclick: () => showDetails(rec) },
          el("img", { src: rec.image, alt: `${run.assessor}, seed #${s}, ${className(state.cls)}, α ${fmtAlpha(rec.alpha)}` }),
          el("figcaption", {}, fmtScore(rec.scores[run.id])));
        return el("td", { className: run.inside[j] ? "inside" : "" }, fig);
      })));
    const title = el("h3", {}, runTitle(run), el("span", { className: "sub" },
      `${run.generator} · ${className(state.cls)} · numbers: ${run.assessor} score`));
    return el("section", { className: "block", "data-run": run.id },
      el("div", { className: "block-head" }, title, curve(run)),
      el("table", { className: "grid" }, el("thead", {}, head), el("tbody", {}, rows)));
  }

  /** Score vs α of the shown seeds (thin) and their mean (thick) for the chosen class; trained range shaded. */
  function curve(run) {
    const W = 300, H = 120, L = 44, R = 8, T = 16, B = 22;
    const seeds = group().seeds.map((_, s) => run.alphas.map((_, j) => cells.get(cellKey(run.id, state.cls, s, j))))
      .filter((line) => line.every(Boolean)).map((line) => line.map((rec) => rec.scores[run.id]));
    const box = svg("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img",
      "aria-label": `score vs alpha of ${run.assessor}` });
    if (!seeds.length) return box;
    const values = seeds.flat().filter((v) => Number.isFinite(v));
    let lo = Math.min(...values), hi = Math.max(...values);
    if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
    const a0 = run.alphas[0], a1 = run.alphas[run.alphas.length - 1];
    const x = (a) => L + ((a - a0) / ((a1 - a0) || 1)) * (W - L - R);
    const y = (v) => T + (1 - (v - lo) / (hi - lo)) * (H - T - B);
    box.append(svg("rect", { x: x(run.alphaRange[0]), y: T, width: Math.max(1, x(run.alphaRange[1]) - x(run.alphaRange[0])),
      height: H - T - B, fill: "#e4ecfb" }));
    box.append(svg("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: "#8a93a3" }));
    box.append(svg("line", { x1: L, y1: T, x2: L, y2: H - B, stroke: "#8a93a3" }));
    const path = (line) => line.map((v, j) => `${j ? "L" : "M"}${x(run.alphas[j]).toFixed(1)},${y(v).toFixed(1)}`).join("");
    for (const line of seeds) box.append(svg("path", { d: path(line), fill: "none", stroke: "#9fb6e6", "stroke-width": 1 }));
    const mean = run.alphas.map((_, j) => seeds.reduce((sum, line) => sum + line[j], 0) / seeds.length);
    box.append(svg("path", { d: path(mean), fill: "none", stroke: "#2f6fdb", "stroke-width": 2.5 }));
    const text = (tx, ty, anchor, label) => svg("text", { x: tx, y: ty, "text-anchor": anchor, "font-size": 10, fill: "#5d6677" }, label);
    box.append(text(L - 4, T + 4, "end", fmtScore(hi)), text(L - 4, H - B, "end", fmtScore(lo)),
      text(L, H - 6, "start", `α ${fmtAlpha(a0)}`), text(W - R, H - 6, "end", `α ${fmtAlpha(a1)}`),
      text((L + W - R) / 2, H - 6, "middle", "α"),
      text(L + 4, 11, "start", `score (${run.assessor}) of the ${seeds.length} seeds; mean in bold`));
    return box;
  }

  // ---- details of a clicked image ----
  function showDetails(rec) {
    state.picked = rec;
    const run = runs.get(rec.run);
    const g = group();
    const inside = run.inside[rec.alpha_index];
    const row = (k, v, attrs) => el("tr", attrs || {}, el("td", {}, k), el("td", {}, v));
    const scoreRows = chosen().map((other) => row(`${other.assessor}${other.id === run.id ? " (this run)" : ""}`,
      fmtScore(rec.scores[other.id]), { "data-run": other.id, className: other.id === run.id ? "own" : "" }));
    const body = [
      el("img", { className: "big", src: rec.image, alt: "the chosen image" }),
      el("table", { className: "numbers", id: "details-info" },
        row("run", `${runTitle(run)} (${run.name})`),
        row("seed", `#${rec.seed_index} (held-out seed ${rec.seed})`),
        row("class", className(rec.class)),
        row("α", `${fmtAlpha(rec.alpha)} (${inside ? "inside" : "outside"} the trained range ` +
          `[${fmtAlpha(run.alphaRange[0])}, ${fmtAlpha(run.alphaRange[1])}])`)),
      el("h4", {}, "Score of every chosen assessor on this image"),
      el("table", { className: "numbers", id: "details-scores" }, scoreRows),
    ];
    const factors = Object.entries(rec.factors || {});
    if (factors.length) {
      body.push(el("h4", {}, "True factors, measured from pixels"),
        el("table", { className: "numbers", id: "details-factors" }, factors.map(([k, v]) => row(k, fmtScore(v)))));
    }
    if (rec.predicted_class !== null && rec.predicted_class !== undefined) {
      body.push(el("p", { className: "hint" }, `Shape classifier reads: ${g.classNames ? g.classNames[rec.predicted_class] : rec.predicted_class}` +
        (rec.predicted_class === rec.class ? " (class kept)" : " (class changed)")));
    }
    $("details-body").replaceChildren(...body);
    $("details-close").hidden = false;
    document.querySelectorAll("figure.picked").forEach((f) => f.classList.remove("picked"));
    const fig = document.querySelector(`figure[data-run="${rec.run}"][data-seed="${rec.seed_index}"][data-alpha="${rec.alpha_index}"]`);
    if (fig && rec.class === state.cls) fig.classList.add("picked");
  }

  function closeDetails() {
    state.picked = null;
    $("details-close").hidden = true;
    $("details-body").replaceChildren(el("p", { className: "placeholder" },
      "Click an image for its details: seed, class, α, the score every chosen assessor gives it" +
      (group().worldFactors ? " and its true factors measured from pixels." : ".")));
    document.querySelectorAll("figure.picked").forEach((f) => f.classList.remove("picked"));
  }

  // ---- metrics of each chosen run (eval/metrics.json) and its curves (eval/changes_vs_alpha.png) ----
  function renderMetrics() {
    const box = $("metrics");
    box.replaceChildren(el("h2", {}, "Metrics of the chosen runs (held-out evaluation)"));
    for (const run of chosen()) box.append(metricCard(run));
  }

  function metricCard(run) {
    const title = el("h3", {}, `${runTitle(run)} `, el("span", { className: "hint" }, run.folder));
    if (!run.metrics) {
      return el("div", { className: "metric-card" }, el("div", {}, title,
        el("p", { className: "hint" }, "Not evaluated: the run folder has no eval/metrics.json (ganalyze-eval run_dir=...).")));
    }
    const trained = run.metrics.metrics.trained, random = run.metrics.metrics.random || {};
    const groups = Object.keys(trained).filter((k) => k !== "class");
    const draws = (random.score && random.score.spearman_draws) ? random.score.spearman_draws.length : 1;
    const table = el("table", { className: "numbers" },
      el("tr", {}, ["change of", "ρ trained", `|ρ| random (${draws})`, "slope trained", "slope random", "monotonic"]
        .map((h) => el("th", {}, h))),
      groups.map((k) => {
        const t = trained[k], r = random[k] || {};
        return el("tr", {}, el("td", {}, k === "score" ? `score (${run.assessor})` : k),
          el("td", {}, fmtNum(t.spearman, 3)),
          el("td", {}, fmtNum(r.abs_spearman_mean !== undefined ? r.abs_spearman_mean : Math.abs(r.spearman), 3)),
          el("td", {}, fmtNum(t.slope, 3)), el("td", {}, fmtNum(r.slope, 3)),
          el("td", {}, fmtNum(t.monotonic_fraction, 2)));
      }));
    const extra = [`score R² vs A(G(z)) + α: ${fmtNum(trained.score.r2, 3)}`,
      `R² of the change: ${fmtNum(trained.score.r2_change, 3)}`];
    if (trained.class) {
      extra.push(`class kept at α = ${fmtAlpha(run.alphaRange[0])} / ${fmtAlpha(run.alphaRange[1])}: ` +
        `${fmtNum(100 * trained.class.preserved_at_low, 1)}% / ${fmtNum(100 * trained.class.preserved_at_high, 1)}%`);
    }
    const left = el("div", {}, title, table, el("p", { className: "hint" },
      `${run.metrics.num_seeds} held-out seeds, ρ and slope over the trained range. ` + extra.join(" · ")));
    const right = run.curves
      ? el("figure", {}, el("img", { className: "curves", src: run.curves, alt: `changes vs alpha of ${run.assessor}` }),
        el("figcaption", { className: "hint" }, "Mean change from α = 0 (±1 std) vs α, trained vs random direction; trained range shaded."))
      : el("p", { className: "hint" }, "No eval/changes_vs_alpha.png in the run folder.");
    return el("div", { className: "metric-card", "data-run": run.id }, left, right);
  }

  function renderAll() {
    renderGenerators();
    renderRuns();
    renderClasses();
    renderAlphas();
    renderBlocks();
    renderMetrics();
  }

  $("class-search").addEventListener("input", (e) => { state.query = e.target.value; renderClasses(); });
  $("details-close").addEventListener("click", closeDetails);
  document.addEventListener("keydown", (e) => { if (e.key === "Escape") closeDetails(); });
  $("alpha-all").addEventListener("click", () => { state.alphas = new Set(allKeys()); renderAlphas(); renderBlocks(); });
  $("alpha-none").addEventListener("click", () => { state.alphas = new Set(); renderAlphas(); renderBlocks(); });
  $("alpha-trained").addEventListener("click", () => {
    state.alphas = new Set(allKeys().filter(keyInside));
    renderAlphas();
    renderBlocks();
  });
  selectGroup(0);
})();
