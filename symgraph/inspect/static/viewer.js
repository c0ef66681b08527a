/* symgraph view: minimap, legend, details panel, search, toolbar, and the start. */

// -- minimap -----------------------------------------------------------------------------------
const mini = $("minimap"), miniCtx = mini.getContext("2d");
let miniPending = false, miniScale = null;
function scheduleMinimap() {
  if (miniPending) return;
  miniPending = true;
  requestAnimationFrame(() => { miniPending = false; drawMinimap(); });
}
function drawMinimap() {
  const W = mini.width, H = mini.height, gw = m.root.cw || 1, gh = m.root.ch || 1;
  const stage = stageSize();
  // no overview needed while the whole graph is in sight
  mini.hidden = view.tx >= 0 && view.ty >= 0 && view.tx + gw * view.k <= stage.w &&
    view.ty + gh * view.k <= stage.h;
  if (mini.hidden) return;
  const s = Math.min((W - 12) / gw, (H - 12) / gh);
  const ox = (W - gw * s) / 2, oy = (H - gh * s) / 2;
  miniScale = { s, ox, oy };
  miniCtx.clearRect(0, 0, W, H);
  for (const it of m.drawn) {
    const x = ox + it.ax * s, y = oy + it.ay * s, w = Math.max(1, it.w * s), h = Math.max(1, it.h * s);
    if (it.gid !== undefined && it.expanded) {
      miniCtx.strokeStyle = it.kind === "kernel" ? "#9775fa" : "#98a2b3";
      miniCtx.strokeRect(x, y, w, h);
    } else {
      miniCtx.fillStyle = it.gid !== undefined ? "#adb5bd" : (DATA.colours[it.fam] || "#dee2e6");
      miniCtx.fillRect(x, y, w, h);
    }
  }
  const { w, h } = stage;
  miniCtx.strokeStyle = "#3b5bdb";
  miniCtx.lineWidth = 1.5;
  miniCtx.strokeRect(ox + (-view.tx / view.k) * s, oy + (-view.ty / view.k) * s, (w / view.k) * s, (h / view.k) * s);
  miniCtx.lineWidth = 1;
}
function miniGo(ev) {
  if (!miniScale) return;
  const r = mini.getBoundingClientRect(), { s, ox, oy } = miniScale, { w, h } = stageSize();
  const gx = (ev.clientX - r.left - ox) / s, gy = (ev.clientY - r.top - oy) / s;
  view.tx = w / 2 - view.k * gx;
  view.ty = h / 2 - view.k * gy;
  applyView();
}
let miniDrag = false;
mini.addEventListener("pointerdown", (ev) => { miniDrag = true; miniGo(ev); ev.stopPropagation(); });
window.addEventListener("pointermove", (ev) => { if (miniDrag) miniGo(ev); });
window.addEventListener("pointerup", () => { miniDrag = false; });

// -- legend ------------------------------------------------------------------------------------
function drawLegend() {
  const fams = new Set(overlay() ? [] : m.nodes.map((n) => n.fam));
  const rows = [];
  if (overlay()) {
    rows.push('<span class="row"><span class="heat"></span>share of a call\'s time</span>');
    rows.push(`<span class="row"><span class="sw" style="background:${NO_TIME}"></span>no kernel</span>`);
  }
  for (const fam of Object.keys(FAMILY_NAMES)) {
    if (!fams.has(fam)) continue;
    rows.push(`<span class="row"><span class="sw fam-${fam}" style="background:${DATA.colours[fam]}"></span>${esc(FAMILY_NAMES[fam])}</span>`);
  }
  if (m.groups.some((g) => g.kind === "scope" && g.count)) {
    rows.push('<span class="row"><span class="sw" style="background:#fff;box-shadow:2px 2px 0 #c4cad4"></span>name scope (click)</span>');
  }
  if (m.groups.some((g) => g.kind === "kernel")) {
    rows.push('<span class="row"><span class="sw" style="background:rgba(132,94,247,.18);border-color:#9775fa"></span>fused kernel</span>');
  }
  rows.push('<span class="row"><span class="ln"></span>reads values</span>');
  if (m.links.some((l) => !l.data)) rows.push('<span class="row"><span class="ln dash"></span>reads the shape only</span>');
  if (m.links.some((l) => l.kind === "body")) rows.push('<span class="row"><span class="ln dot"></span>loop body output</span>');
  $("legend").innerHTML = rows.join("");
}

// -- side panel -------------------------------------------------------------------------------
const panel = $("panel"), panelBody = $("panel-body");
function openPanel(html) {
  panelBody.innerHTML = html;
  panel.hidden = false;
  document.body.classList.add("panel-open");
  panel.scrollTop = 0;
  scheduleMinimap();
}
function closePanel() {
  panel.hidden = true;
  document.body.classList.remove("panel-open");
  scheduleMinimap();
}
$("panel-close").addEventListener("click", closePanel);

const goLink = (n, text) => `<a data-go="${n.id}">${esc(text || n.name)}</a>`;
const kv = (rows) => '<table class="kv">' + rows.filter((r) => r[1] !== null && r[1] !== "")
  .map(([k, v]) => `<tr><td>${esc(k)}</td><td>${v}</td></tr>`).join("") + "</table>";

function linkList(links, end) {
  if (!links.length) return '<p class="note">none</p>';
  return '<ul class="links">' + links.map((l) => {
    const n = m.byId.get(end === "source" ? l.source : l.target);
    const how = l.kind === "body" ? "loop body output" : !l.data ? "shape only" : "";
    return `<li>${goLink(n)} <span class="dim">${esc(shapeLabel(n.shape))}` +
      `${end === "source" ? " \u00b7 input " + l.index : ""}${how ? " \u00b7 " + how : ""}</span></li>`;
  }).join("") + "</ul>";
}

function kernelSection(name, model) {
  const k = model.kernels.get(name);
  if (!k) return "";
  const t = DATA.profile && DATA.profile[name];
  const members = k.members.map((id) => model.byId.get(id)).filter(Boolean);
  const src = DATA.kernel_sources && DATA.kernel_sources[name];
  const here = model === m;
  const link = (n) => (here ? goLink(n) : `<a data-switch="compiled" data-go="${n.id}">${esc(n.name)}</a>`);
  return `<h3>kernel ${esc(name)} \u00b7 ${esc(k.kind)}${t != null ? " \u00b7 " + fmtTime(t) : ""}</h3>` +
    (here ? "" : `<p class="note">in the compiled plan (<a data-switch="compiled" data-kernel="${esc(name)}">show</a>)</p>`) +
    `<p class="note">computes ${members.length} node${members.length === 1 ? "" : "s"}:</p>` +
    '<ul class="links">' + members.map((n) => `<li>${link(n)} <span class="dim">${esc(n.op)}</span></li>`).join("") + "</ul>" +
    (src ? `<pre class="source">${esc(src)}</pre>` : '<p class="note">no source recorded</p>');
}

function showNode(n) {
  const compiledModel = models.compiled;
  let kernelName = n.kernel, kernelModel = m;
  if (!m.compiled && compiledModel) {
    const twin = compiledModel.byId.get(n.id);
    kernelName = twin ? twin.kernel : null;
    kernelModel = compiledModel;
  }
  const attrs = Object.keys(n.attrs || {}).length ? `<h3>attributes</h3><pre class="line">${esc(JSON.stringify(n.attrs, null, 1))}</pre>` : "";
  const line = n.location && DATA.sources ? DATA.sources[n.location] : null;
  const loc = n.location ? `<h3>created at</h3><div>${esc(n.location)}</div>` +
    (line ? `<pre class="line">${esc(line)}</pre>` : "") : "";
  const rows = [
    ["op", esc(n.op)], ["family", esc(FAMILY_NAMES[n.fam] || n.fam)], ["shape", esc(shapeStr(n.shape))],
    ["dtype", esc(n.dtype)], ["bytes", n.bytes == null ? "unknown (not every dim is known)" : `${fmtInt(n.bytes)} (${fmtBytes(n.bytes)})`],
    ["scope", n.scope ? esc(n.scope) : null],
    ["role", [n.is_input ? "input" : "", n.is_output ? "output" : ""].filter(Boolean).join(", ") || null],
    ["kernel", kernelName ? `<a data-kernel="${esc(kernelName)}"${kernelModel === m ? "" : ' data-switch="compiled"'}>${esc(kernelName)}</a>` : null],
  ];
  openPanel(`<h2>${esc(n.name)}</h2><div class="kind">${esc(n.op)} \u00b7 ${esc(shapeStr(n.shape))} ${esc(n.dtype)}</div>` +
    kv(rows) + attrs + loc + "<h3>inputs</h3>" + linkList(n.ins, "source") +
    "<h3>consumers</h3>" + linkList(n.outs, "target") +
    (kernelName ? kernelSection(kernelName, kernelModel) : ""));
}

function showKernel(name) {
  const k = m.kernels.get(name);
  if (!k) return;
  const n = m.byId.get(k.node);
  const ins = k.inputs.map((id) => m.byId.get(id)).filter(Boolean);
  openPanel(`<h2>${esc(name)}</h2><div class="kind">${esc(k.kind)}</div>` +
    kv([["stores", n ? goLink(n) : null], ["shape", n ? esc(shapeStr(n.shape)) : null],
      ["reads", ins.length ? ins.map((x) => goLink(x)).join(", ") : "nothing"],
      ["time", DATA.profile && DATA.profile[name] != null ? fmtTime(DATA.profile[name]) : null]]) +
    kernelSection(name, m));
}

function showGroup(g) {
  const ops = new Map();
  let bytes = 0;
  const walk = (x) => {
    for (const n of x.nodes) { ops.set(n.op, (ops.get(n.op) || 0) + 1); bytes += n.bytes || 0; }
    x.groups.forEach(walk);
  };
  walk(g);
  const top = [...ops].sort((p, q) => q[1] - p[1]).slice(0, 12).map(([op, c]) => `${esc(op)} \u00d7${c}`).join(", ");
  const kernels = m.compiled ? [...m.kernels.values()].filter((k) => {
    const n = m.byId.get(k.node);
    return n && n.chain.includes(g);
  }) : [];
  const what = g.kind === "loop" ? "loop body" : "name scope";
  openPanel(`<h2>${esc(g.path.startsWith("loop ") ? g.label : g.path)}</h2><div class="kind">${what} \u00b7 ${fmtInt(g.count)} nodes</div>` +
    kv([["output", g.outNode ? goLink(g.outNode) + " " + esc(shapeLabel(g.outNode.shape)) : null],
      ["ops", top], ["bytes", bytes ? `${fmtInt(bytes)} (${fmtBytes(bytes)}, static sizes)` : null],
      ["kernels", kernels.length ? kernels.map((k) => `<a data-kernel="${k.name}">${k.name}</a>`).join(", ") : null],
      ["time", m.compiled && DATA.profile ? fmtTime(g.time) : null]]) +
    `<p><a data-toggle="${g.gid}">${g.expanded ? "collapse" : "expand"} this ${what}</a></p>`);
}

function showMemory() {
  const mp = DATA.memory;
  if (!mp) return;
  if (mp.error) { openPanel(`<h2>Memory plan</h2><p class="note">${esc(mp.error)}</p>`); return; }
  const steps = Math.max(1, mp.steps - 1);
  const reuse = mp.buffers.filter((b) => b.reuses).length;
  const rows = mp.buffers.map((b) => {
    const end = b.dies == null ? steps : b.dies;
    const life = `<div class="life" title="steps ${b.born}\u2013${b.dies == null ? "out" : b.dies}">` +
      `<span class="${b.reuses ? "reuse" : ""}" style="left:${(100 * b.born / steps).toFixed(1)}%;` +
      `width:${Math.max(2, 100 * (end - b.born) / steps).toFixed(1)}%"></span></div>`;
    return `<tr class="click" data-go="${b.node}"><td>${esc(fitText(b.name, false, 150))}</td><td>${esc(b.kernel || "fill")}</td>` +
      `<td>${esc(shapeStr(b.shape))}</td><td class="num">${fmtBytes(b.bytes)}</td><td>${life}</td>` +
      (reuse ? `<td>${b.reuses ? esc(b.reuses) : ""}</td>` : "") + "</tr>";
  }).join("");
  openPanel(`<h2>Memory plan</h2><div class="kind">one call with inputs ${esc(mp.input_shapes.map(shapeStr).join(", "))}</div>` +
    kv([["peak", `${fmtBytes(mp.peak_bytes)} at step ${mp.peak_step}`], ["outputs", fmtBytes(mp.output_bytes)],
      ["buffers", `${mp.buffers.length}` + (reuse ? ` (${reuse} written into a dead input's buffer)` : "")]]) +
    '<p class="note">lives: the plan steps from the buffer\'s write to its last read' +
    (reuse ? "; green: it reuses the buffer of a dead input (no new memory)" : "") + ".</p>" +
    '<div class="scroll"><table class="grid"><thead><tr><th>buffer</th><th>kernel</th><th>shape</th><th>bytes</th><th>lives</th>' +
    (reuse ? "<th>reuses</th>" : "") + `</tr></thead><tbody>${rows}</tbody></table></div>`);
}

function showProfile() {
  const p = DATA.profile;
  if (!p) return;
  const total = Object.values(p).reduce((a, b) => a + b, 0) || 1;
  const rows = Object.entries(p).sort((a, b) => b[1] - a[1]).map(([name, t]) => {
    const k = models.compiled.kernels.get(name), n = k && models.compiled.byId.get(k.node);
    return `<tr class="click" data-kernel="${esc(name)}"><td>${esc(name)}</td><td>${esc(n ? fitText(n.name, false, 130) : "")}</td>` +
      `<td>${esc(k ? k.kind : "")}</td><td class="num">${fmtTime(t)}</td><td class="num">${(100 * t / total).toFixed(1)}%</td>` +
      `<td style="width:60px"><div class="bar" style="width:${(100 * t / (DATA.profile_max || 1)).toFixed(1)}%"></div></td></tr>`;
  }).join("");
  openPanel(`<h2>Kernel times</h2><div class="kind">median per call, ${fmtTime(total)} in all</div>` +
    '<div class="scroll"><table class="grid"><thead><tr><th>kernel</th><th>stores</th><th>kind</th><th>time</th><th>share</th><th></th></tr></thead>' +
    `<tbody>${rows}</tbody></table></div>`);
}

panel.addEventListener("click", (ev) => {
  const el = ev.target.closest("[data-go], [data-kernel], [data-toggle]");
  if (!el) return;
  if (el.dataset.switch && m !== models[el.dataset.switch]) setView(el.dataset.switch);
  if (el.dataset.toggle !== undefined) {
    const g = m.groups[+el.dataset.toggle];
    setExpanded(g, !g.expanded);
    showGroup(g);
  } else if (el.dataset.go !== undefined) {
    if (!m.compiled && el.closest("table.grid") && models.compiled) setView("compiled");
    goTo(m.byId.get(+el.dataset.go), el.closest("table.grid") == null);
  } else if (el.dataset.kernel) {
    const k = m.kernels.get(el.dataset.kernel);
    if (k && m.byId.get(k.node)) goTo(m.byId.get(k.node), false);
    showKernel(el.dataset.kernel);
  }
});

function goTo(n, details) {
  if (!n) return;
  if (reveal(n)) render();
  m.selected = n.uid;
  applyMarks();
  centerOn(n);
  if (details) showNode(n);
}

// -- search -------------------------------------------------------------------------------------
const search = $("search"), searchCount = $("search-count");
const MAX_EXPAND = 60;  // more matches than this only mark the boxes holding them
let searchTimer = null;
function runSearch(q) {
  q = q.trim().toLowerCase();
  m.matches = q ? m.nodes.filter((n) => n.name.toLowerCase().includes(q) || n.op.toLowerCase().includes(q)) : [];
  m.current = -1;
  let changed = false;
  if (m.matches.length <= MAX_EXPAND) for (const n of m.matches) changed = reveal(n) || changed;
  if (changed) render(); else applyMarks();
  updateCount();
  return m.matches.length;
}
function updateCount() {
  const n = m.matches.length;
  searchCount.textContent = !search.value.trim() ? "" : !n ? "no match" :
    m.current >= 0 ? `${m.current + 1} / ${n}` : `${n} match${n === 1 ? "" : "es"}`;
}
function nextMatch(step) {
  if (searchTimer) { clearTimeout(searchTimer); searchTimer = null; runSearch(search.value); }
  const n = m.matches.length;
  if (!n) return;
  m.current = ((m.current + step) % n + n) % n;
  goTo(m.matches[m.current], true);
  updateCount();
}
search.addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => { searchTimer = null; runSearch(search.value); }, 120);
});
search.addEventListener("keydown", (ev) => {
  if (ev.key === "Enter") { ev.preventDefault(); nextMatch(ev.shiftKey ? -1 : 1); }
  else if (ev.key === "Escape") { search.value = ""; runSearch(""); search.blur(); }
});

// -- toolbar and keys ---------------------------------------------------------------------------
function setView(name) {
  if (!models[name]) return;
  if (m) m.view = { ...view };
  m = models[name];
  for (const b of document.querySelectorAll("#view-toggle button")) b.classList.toggle("on", b.dataset.view === name);
  updateButtons();
  render();
  if (m.view) { view = { ...m.view }; applyView(); } else fit(true);
  if (search.value.trim()) runSearch(search.value);
  document.body.dataset.view = name;
}
for (const b of document.querySelectorAll("#view-toggle button")) {
  b.addEventListener("click", () => setView(b.dataset.view));
}
function updateButtons() {
  $("btn-dir").textContent = m.dir === "TB" ? "top-down" : "left-right";
  $("btn-heat").hidden = !(m.compiled && DATA.profile);
  $("btn-heat").classList.toggle("on", !!overlay());
}
function toggleDir() {
  m.dir = m.dir === "TB" ? "LR" : "TB";
  $("btn-dir").textContent = m.dir === "TB" ? "top-down" : "left-right";
  render();
  fit(true);
}
$("btn-dir").addEventListener("click", toggleDir);
$("btn-collapse").addEventListener("click", () => {
  for (const g of m.groups) if (g.kind === "scope" || g.kind === "loop") { g.expanded = false; g.dirty = true; }
  m.root.dirty = true;
  render();
  fit(true);
});
const zoomCentre = (f) => { const { w, h } = stageSize(); zoomAt(w / 2, h / 2, f); };
$("btn-zoom-in").addEventListener("click", () => zoomCentre(1.25));
$("btn-zoom-out").addEventListener("click", () => zoomCentre(0.8));
$("btn-fit").addEventListener("click", () => fit(false));
$("btn-memory").addEventListener("click", () => { if (models.compiled && m !== models.compiled) setView("compiled"); showMemory(); });
$("btn-heat").addEventListener("click", () => {
  m.heat = !m.heat;
  for (const g of m.groups) g.dirty = true;
  render();
  updateButtons();
});
$("btn-profile").addEventListener("click", () => { if (models.compiled && m !== models.compiled) setView("compiled"); showProfile(); });
document.addEventListener("keydown", (ev) => {
  if (ev.target === search || ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (ev.key === "/") { ev.preventDefault(); search.focus(); search.select(); }
  else if (ev.key === "f") fit(false);
  else if (ev.key === "d") toggleDir();
  else if (ev.key === "+" || ev.key === "=") zoomCentre(1.25);
  else if (ev.key === "-") zoomCentre(0.8);
  else if (ev.key === "Escape") closePanel();
});
window.addEventListener("resize", scheduleMinimap);

// -- start ----------------------------------------------------------------------------------------
const t0 = performance.now();
models.written = buildModel(DATA.written, false);
if (DATA.compiled) models.compiled = buildModel(DATA.compiled, true);
if (DATA.profile) {
  const times = Object.values(DATA.profile);
  DATA.profile_max = Math.max(...times, 1e-12);
  DATA.profile_total = times.reduce((a, b) => a + b, 0) || 1e-12;
  if (models.compiled) models.compiled.heat = true;
}
$("title").textContent = DATA.title || "";
$("view-toggle").hidden = !DATA.compiled;
$("btn-memory").hidden = !DATA.memory;
$("btn-profile").hidden = !DATA.profile;
const buildMs = performance.now() - t0;
setView(models[DATA.initial_view] ? DATA.initial_view : "written");
const firstDrawMs = performance.now();

// what the browser tests (and curious users) can read back
window.symgraphViewer = {
  firstDrawMs, buildMs, stats, firstPaintMs: null,
  view: () => (m === models.compiled ? "compiled" : "written"),
  setView, search: (q) => { search.value = q; return runSearch(q); }, next: () => nextMatch(1),
  select: (name) => goTo(m.nodes.find((n) => n.name === name), true),
  expand: (path) => { const g = m.groups.find((x) => x.path === path); if (g) setExpanded(g, true); return !!g; },
  transform: () => ({ ...view }),
  visible: () => m.drawn.map((it) => (it.gid === undefined ? it.name : (it.expanded ? "+" : "") + it.path)),
};
requestAnimationFrame(() => requestAnimationFrame(() => {
  window.symgraphViewer.firstPaintMs = performance.now();
}));
