/* symgraph view: SVG of the laid-out scene, edge routes, culling, marks, pan and zoom. */

// -- drawing -------------------------------------------------------------------------------
const svg = $("canvas"), viewport = $("viewport");
const layers = { g: $("layer-groups"), e: $("layer-edges"), n: $("layer-nodes") };
let models = {}, m = null;

function unitOf(n) {
  const c = n.chain;
  for (let d = 1; d < c.length; d++) if (!c[d].expanded) return c[d];
  return n;
}

/* The time overlay (compiled view with kernel times): colours say the share of a
   call's time (square root, so that small shares still show), not the op family. */
const overlay = () => m.compiled && DATA.profile && m.heat;
const timeHeat = (seconds) => heat(Math.sqrt(seconds / (DATA.profile_total || 1)));
const NO_TIME = "#f8f9fa";
function kernelHeat(name) {
  const t = DATA.profile[name];
  return t == null ? NO_TIME : timeHeat(t);
}

function textLines(lines, w, x0) {
  let s = "";
  lines.forEach((t, i) => {
    const cls = i === 0 ? "b" : i === 1 ? "sub" : "k";
    s += `<text class="${cls}" x="${r1(x0 + w / 2)}" y="${15 + i * S.lineH}" text-anchor="middle">` +
      esc(fitText(t, i === 0, w - 2 * S.padX + 4)) + "</text>";
  });
  return s;
}

function nodeSvg(n) {
  const rx = n.fam === "placeholder" ? n.h / 2 : n.fam === "variable" || n.fam === "constant" ? 3 : 7;
  const cls = "node fam-" + n.fam + (n.is_output ? " out" : "");
  const k = !overlay() ? null : n.kernel && !m.fused.has(n.id) ? kernelHeat(n.kernel) :
    m.fused.has(n.id) ? "#ffffff" : NO_TIME;
  return `<g class="${cls}" data-uid="${n.uid}" transform="translate(${r1(n.ax)},${r1(n.ay)})">` +
    `<rect class="body" width="${n.w}" height="${n.h}" rx="${rx}"${k ? ` style="fill:${k}"` : ""}></rect>` +
    textLines(n.lines, n.w, 0) + "</g>";
}

function boxSvg(g) {
  const w = g.w - S.stack, h = g.h - S.stack;
  const hot = overlay() ? (g.time ? timeHeat(g.time) : NO_TIME) : null;
  return `<g class="box ${g.kind}" data-uid="${g.uid}" transform="translate(${r1(g.ax)},${r1(g.ay)})">` +
    `<rect class="stack" x="${S.stack}" y="${S.stack}" width="${w}" height="${h}" rx="7"></rect>` +
    `<rect class="body" width="${w}" height="${h}" rx="7"${hot ? ` style="fill:${hot}"` : ""}></rect>` +
    textLines(g.lines, w, 0) +
    `<text class="sub" x="${w - 8}" y="12" text-anchor="end">+</text></g>`;
}

function containerSvg(g) {
  const x = r1(g.ax), y = r1(g.ay), w = g.w, h = g.h;
  const hot = g.kind === "kernel" && overlay() ? kernelHeat(g.kernel.name) : null;
  const toggle = g.kind === "kernel" ? "" :
    `<text class="toggle" x="${x + w - 12}" y="${y + 16}" text-anchor="middle">\u2212</text>`;
  const [name, more] = headParts(g);
  const room = w - 2 * S.pad - 14;
  const head = esc(fitText(name, true, room)) + (textW(name, true) + textW(more, false) <= room ?
    `<tspan class="cnt">${esc(more)}</tspan>` : "");
  return `<g class="container ${g.kind}" data-uid="${g.uid}">` +
    `<rect class="frame" x="${x}" y="${y}" width="${w}" height="${h}" rx="8"${hot ? ` style="fill:${hot}"` : ""}></rect>` +
    `<g class="ghead" data-uid="h${g.gid}"><path class="head" d="M${x},${y + S.head}V${y + 8}Q${x},${y} ${x + 8},${y}` +
    `H${x + w - 8}Q${x + w},${y} ${x + w},${y + 8}V${y + S.head}Z"></path>` +
    `<text class="gl" x="${x + 10}" y="${y + 16}">${head}</text>${toggle}</g></g>`;
}

function place(g, ox, oy, out) {
  for (const it of g.items) {
    it.ax = ox + it.x;
    it.ay = oy + it.y;
    if (it.gid === undefined) {
      out.n.push({ b: [it.ax, it.ay, it.ax + it.w, it.ay + it.h], html: nodeSvg(it),
        lite: `<rect class="lite fam-${it.fam}" x="${r1(it.ax)}" y="${r1(it.ay)}" width="${it.w}" height="${it.h}"></rect>` });
      out.drawn.push(it);
    } else if (it.expanded) {
      out.g.push({ b: [it.ax, it.ay, it.ax + it.w, it.ay + it.h], html: containerSvg(it) });
      out.drawn.push(it);
      it.ox = it.ax + it.offX;
      it.oy = it.ay + S.head + S.pad;
      place(it, it.ox, it.oy, out);
    } else {
      out.n.push({ b: [it.ax, it.ay, it.ax + it.w, it.ay + it.h], html: boxSvg(it),
        lite: `<rect class="lite box" x="${r1(it.ax)}" y="${r1(it.ay)}" width="${it.w}" height="${it.h}"></rect>` });
      out.drawn.push(it);
    }
  }
  for (const e of g.levels.values()) out.levels.push({ e, ox, oy });
}

/* One drawn edge per pair of visible ends; ports spread along the box sides. */
function drawEdges(levels, out) {
  const TB = m.dir === "TB";
  const drawn = new Map();
  for (const { e, ox, oy } of levels) {
    for (const l of e.links) {
      const su = unitOf(m.byId.get(l.source)), tu = unitOf(m.byId.get(l.target));
      const key = su.uid + ">" + tu.uid;
      let d = drawn.get(key);
      if (!d) {
        d = { su, tu, a: e.a, b: e.b, pts: e.pts.map(([x, y]) => [x + ox, y + oy]), links: [] };
        drawn.set(key, d);
      }
      d.links.push(l);
    }
  }
  const centre = (u) => (TB ? u.ax + u.w / 2 : u.ay + u.h / 2);
  const outsOf = new Map(), insOf = new Map();
  for (const d of drawn.values()) {
    if (!outsOf.has(d.su)) outsOf.set(d.su, []);
    if (!insOf.has(d.tu)) insOf.set(d.tu, []);
    outsOf.get(d.su).push(d);
    insOf.get(d.tu).push(d);
  }
  const spread = (list, u, field, other) => {
    list.sort((p, q) => centre(p[other]) - centre(q[other]));
    const side = (TB ? u.w : u.h) - (u.gid !== undefined && !u.expanded ? S.stack : 0);
    const span = Math.min(side * 0.6, 16 * (list.length - 1));
    list.forEach((d, i) => {
      d[field] = (TB ? u.ax : u.ay) + side / 2 + (list.length > 1 ? span * (i / (list.length - 1) - 0.5) : 0);
    });
  };
  for (const [u, list] of outsOf) spread(list, u, "outPort", "tu");
  for (const [u, list] of insOf) spread(list, u, "inPort", "su");
  for (const d of drawn.values()) {
    const { su, tu } = d;
    const sh = su.gid !== undefined && !su.expanded ? S.stack : 0;
    const th = tu.gid !== undefined && !tu.expanded ? S.stack : 0;
    let pts = [TB ? [d.outPort, su.ay + su.h - sh] : [su.ax + su.w - sh, d.outPort]];
    climb(su, d.a, pts);
    pts.push(...d.pts);
    descend(d.b, tu, pts);
    pts.push(TB ? [d.inPort, tu.ay - 1] : [tu.ax - 1, d.inPort]);
    pts = resolve(pts, TB);
    const shapeOnly = d.links.every((l) => !l.data), body = d.links.every((l) => l.kind === "body");
    const src = m.byId.get(d.links[0].source);
    const sources = new Set(d.links.map((l) => l.source)).size;
    let label = shapeLabel(src.shape) + (sources > 1 ? ` +${sources - 1}` : "");
    if (body) label = "body " + label;
    // the label sits in the gap after the source's layer band: beside the middle of
    // the gap top-down, above its start left to right (those gaps are narrow)
    let f = pts.findIndex((p) => p.label);
    if (f < 0 || f === pts.length - 1) f = 0;
    const [lx, ly] = TB ? [(pts[f][0] + pts[f + 1][0]) / 2 + 6, (pts[f][1] + pts[f + 1][1]) / 2 + 3] :
      [pts[f][0] + 4, pts[f][1] - 4];
    const path = curve(pts, TB);
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const [x, y] of pts) { x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y); }
    const reach = 60;  // backward edges loop out this far; labels stick out a little
    out.e.push({ b: [x0 - reach, y0 - reach, x1 + reach, y1 + reach], html:
      `<g class="edge${shapeOnly ? " shape" : ""}${body ? " body" : ""}" data-edge="${d.su.uid}>${d.tu.uid}">` +
      `<path class="hit" d="${path}"></path><path class="line" d="${path}" marker-end="url(#arrow)"></path>` +
      `<text class="lbl" x="${r1(lx)}" y="${r1(ly)}">${esc(label)}</text></g>` });
  }
  return drawn.size;
}

const parentOf = (u) => (u.gid !== undefined ? u.parent : u.container);
const abs = (G, p) => [p[0] + G.ox, p[1] + G.oy];

/* Route markers: a position on the main axis whose cross position is taken from the
   neighbouring point on the unit's side, so that an edge runs straight along the main
   axis out of a layer band (past taller neighbours) and through group borders. */
const TBdir = () => m.dir === "TB";
const bandEnd = (u) => ({ main: (TBdir() ? parentOf(u).oy : parentOf(u).ox) + u.bandB, exit: true });
const bandStart = (u) => ({ main: (TBdir() ? parentOf(u).oy : parentOf(u).ox) + u.bandA, exit: false });
const borderOut = (G) => ({ main: TBdir() ? G.ay + G.h : G.ax + G.w, exit: true });
const borderIn = (G) => ({ main: TBdir() ? G.ay : G.ax, exit: false });

/* Route from a visible unit up through the groups holding it, out of ``top``. */
function climb(u, top, pts) {
  const last = bandEnd(top);
  last.label = true;  // the edge's label goes in the gap after this point
  if (u === top) { pts.push(last); return; }
  pts.push(bandEnd(u));
  for (let item = u, G = parentOf(u); ; item = G, G = G.parent) {
    const port = G.ports && G.ports.out.get(item);
    if (port) for (const p of port) pts.push(abs(G, p));
    pts.push(borderOut(G), G === top ? last : bandEnd(G));
    if (G === top) return;
  }
}

/* Route into ``top`` and down through the groups holding the visible unit ``u``. */
function descend(top, u, pts) {
  const levels = [];
  if (u !== top) {
    for (let item = u, G = parentOf(u); ; item = G, G = G.parent) {
      levels.push([G, item]);
      if (G === top) break;
    }
  }
  for (const [G, item] of levels.reverse()) {
    pts.push(bandStart(G), borderIn(G));
    const port = G.ports && G.ports.in.get(item);
    if (port) for (const p of port) pts.push(abs(G, p));
  }
  pts.push(bandStart(u));
}

/* Markers to points (see above); points closer than half a pixel are merged. */
function resolve(pts, TB) {
  const at = (mk, q) => {
    const p = TB ? [q[0], mk.main] : [mk.main, q[1]];
    if (mk.label) p.label = true;
    return p;
  };
  for (let i = 1; i < pts.length; i++) if (pts[i].exit === true) pts[i] = at(pts[i], pts[i - 1]);
  for (let i = pts.length - 2; i >= 0; i--) if (pts[i].exit === false) pts[i] = at(pts[i], pts[i + 1]);
  const out = [pts[0]];
  for (let i = 1; i < pts.length; i++) {
    const p = out[out.length - 1], q = pts[i];
    if (Math.abs(p[0] - q[0]) + Math.abs(p[1] - q[1]) > 0.5 || i === pts.length - 1) out.push(q);
    else if (q.label) p.label = true;
  }
  return out;
}

/* Smooth curve through the points: cubic Béziers leaving and entering along the
   layout's main axis (a loop outwards when an edge runs backwards). */
function curve(pts, TB) {
  let s = `M${r1(pts[0][0])},${r1(pts[0][1])}`;
  for (let i = 1; i < pts.length; i++) {
    const [px, py] = pts[i - 1], [qx, qy] = pts[i];
    const gap = TB ? qy - py : qx - px;
    const pull = gap > 0 ? gap / 2 : 40 + Math.abs(gap) / 4;
    const c1 = TB ? [px, py + pull] : [px + pull, py];
    const c2 = TB ? [qx, qy - pull] : [qx - pull, qy];
    s += `C${r1(c1[0])},${r1(c1[1])} ${r1(c2[0])},${r1(c2[1])} ${r1(qx)},${r1(qy)}`;
  }
  return s;
}

const stats = { renders: 0, layoutMs: 0, renderMs: 0, edges: 0 };

function render() {
  const t0 = performance.now();
  layoutGroup(m.root, m);
  const t1 = performance.now();
  const out = { g: [], e: [], n: [], drawn: [], levels: [] };
  place(m.root, 0, 0, out);
  stats.edges = drawEdges(out.levels, out);
  m.drawn = out.drawn;
  m.scene = { g: out.g, e: out.e, n: out.n, size: out.g.length + out.e.length + out.n.length, rect: null };
  paintScene(true);
  stats.renders++;
  stats.layoutMs = t1 - t0;
  stats.renderMs = performance.now() - t0;
  const boxes = out.drawn.filter((it) => it.gid !== undefined && !it.expanded).length;
  $("status").textContent = `${fmtInt(m.nodes.length)} nodes \u00b7 ${fmtInt(out.n.length - boxes)} drawn, ` +
    `${fmtInt(boxes)} collapsed groups \u00b7 layout ${stats.layoutMs.toFixed(1)} ms`;
  drawLegend();
  scheduleMinimap();
}

/* Put the scene into the SVG. A big scene (many nodes expanded, or a large graph without
   scopes) is culled: only what lies within a margin of one screen around the view is
   in the DOM, and panning repaints only when the view leaves that margin. */
const CULL_MIN = 1500;  // items below which everything stays in the DOM
function paintScene(force) {
  const sc = m.scene;
  if (!sc) return;
  let rect = null;
  // far out, a big scene is drawn as plain boxes without edges (nothing is readable)
  const lite = sc.size > CULL_MIN && view.k < 0.35;
  if (lite !== sc.lite) force = true;
  if (sc.size > CULL_MIN) {
    const { w, h } = stageSize(), k = view.k;
    const vx0 = -view.tx / k, vy0 = -view.ty / k, vw = w / k, vh = h / k;
    const r = sc.rect;
    if (!force && r && vx0 >= r[0] && vy0 >= r[1] && vx0 + vw <= r[2] && vy0 + vh <= r[3]) return;
    rect = [vx0 - vw, vy0 - vh, vx0 + 2 * vw, vy0 + 2 * vh];
  } else if (!force) {
    return;
  }
  const pick = (list) => (rect ? list.filter(({ b }) => b[2] >= rect[0] && b[0] <= rect[2] &&
    b[3] >= rect[1] && b[1] <= rect[3]) : list).map((x) => (lite && x.lite) || x.html).join("");
  layers.g.innerHTML = pick(sc.g);
  layers.e.innerHTML = lite ? "" : pick(sc.e);
  layers.n.innerHTML = pick(sc.n);
  sc.rect = rect;
  sc.lite = lite;
  stats.paints = (stats.paints || 0) + 1;
  m.elements = new Map();
  for (const el of viewport.querySelectorAll("[data-uid]")) m.elements.set(el.getAttribute("data-uid"), el);
  applyMarks();
}

function markAll(g) {
  for (let p = g; p; p = p.parent) p.dirty = true;
}

function setExpanded(g, on) {
  if (g.expanded === on || g.kind === "root" || g.kind === "kernel") return;
  const shown = g.chain.every((p) => p === g || p.expanded);
  const sx = view.tx + view.k * g.ax, sy = view.ty + view.k * g.ay;
  for (const p of on ? g.chain : [g]) {  // expanding opens the groups around it too
    if (p.kind !== "root" && p.kind !== "kernel") p.expanded = on;
  }
  markAll(g);
  render();
  if (shown) {  // the box the user clicked stays where it was on the screen
    view.tx = sx - view.k * g.ax;
    view.ty = sy - view.k * g.ay;
  }
  applyView();
}

function reveal(n) {
  let changed = false;
  for (const g of n.chain) {
    if (!g.expanded) { g.expanded = true; markAll(g); changed = true; }
  }
  return changed;
}

// -- marks: selection and search matches -----------------------------------------------
function applyMarks() {
  for (const el of viewport.querySelectorAll(".sel, .match, .has-match, .current")) {
    el.classList.remove("sel", "match", "has-match", "current");
  }
  const mark = (uid, cls) => { const el = m.elements.get(uid); if (el) el.classList.add(cls); };
  m.matches.forEach((n, i) => {
    const u = unitOf(n);
    mark(u.uid, u === n ? "match" : "has-match");
    if (i === m.current && u === n) mark(n.uid, "current");
  });
  if (m.selected) mark(m.selected, "sel");
}

// -- pan and zoom ------------------------------------------------------------------------------
let view = { tx: 0, ty: 0, k: 1 };

function applyView() {
  viewport.setAttribute("transform", `translate(${r1(view.tx)},${r1(view.ty)}) scale(${view.k.toFixed(4)})`);
  svg.classList.toggle("zoomed", view.k >= 1.25);
  svg.classList.toggle("far", view.k < 0.35);  // text too small to read: not drawn
  paintScene(false);
  scheduleMinimap();
}

function stageSize() {
  const r = svg.getBoundingClientRect();
  const panel = document.body.classList.contains("panel-open") ? $("panel").offsetWidth : 0;
  return { w: Math.max(200, r.width - panel), h: r.height };
}

function fit(readable) {
  const { w, h } = stageSize(), gw = m.root.cw || 1, gh = m.root.ch || 1, margin = 40;
  let k = Math.min((w - 2 * margin) / gw, (h - 2 * margin) / gh, 1.2);
  if (readable && k < 0.6) {
    // too small to read: start readable, at the inputs' end, and let the user pan
    k = 0.85;
    view.k = k;
    if (m.dir === "TB") { view.tx = gw * k < w ? (w - gw * k) / 2 : margin; view.ty = margin; }
    else { view.tx = margin; view.ty = gh * k < h ? (h - gh * k) / 2 : margin; }
  } else {
    view.k = k;
    view.tx = (w - gw * k) / 2;
    view.ty = (h - gh * k) / 2;
  }
  applyView();
}

function zoomAt(px, py, factor) {
  const k = Math.max(0.02, Math.min(4, view.k * factor));
  view.tx = px - (px - view.tx) * (k / view.k);
  view.ty = py - (py - view.ty) * (k / view.k);
  view.k = k;
  applyView();
}

function centerOn(it) {
  const { w, h } = stageSize();
  if (view.k < 0.8) view.k = 1;
  view.tx = w / 2 - view.k * (it.ax + it.w / 2);
  view.ty = h / 2 - view.k * (it.ay + it.h / 2);
  applyView();
}

let drag = null, dragMoved = false;
svg.addEventListener("pointerdown", (ev) => {
  if (ev.button !== 0) return;
  drag = { x: ev.clientX, y: ev.clientY, tx: view.tx, ty: view.ty };
  dragMoved = false;
});
window.addEventListener("pointermove", (ev) => {
  if (!drag) return;
  const dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
  if (!dragMoved && Math.abs(dx) + Math.abs(dy) < 4) return;
  dragMoved = true;
  svg.classList.add("dragging");
  view.tx = drag.tx + dx;
  view.ty = drag.ty + dy;
  applyView();
});
window.addEventListener("pointerup", () => {
  drag = null;
  svg.classList.remove("dragging");
});
svg.addEventListener("wheel", (ev) => {
  ev.preventDefault();
  const r = svg.getBoundingClientRect();
  const unit = ev.deltaMode === 1 ? 16 : ev.deltaMode === 2 ? 400 : 1;
  zoomAt(ev.clientX - r.left, ev.clientY - r.top, Math.exp(-ev.deltaY * unit * 0.0015));
}, { passive: false });

svg.addEventListener("click", (ev) => {
  if (dragMoved) { dragMoved = false; return; }
  const el = ev.target.closest("[data-uid]");
  if (!el) return;
  const uid = el.getAttribute("data-uid");
  if (uid[0] === "h") {
    const g = m.groups[+uid.slice(1)];
    if (g.kind === "kernel") { m.selected = g.uid; applyMarks(); showKernel(g.kernel.name); }
    else { m.selected = g.uid; setExpanded(g, false); showGroup(g); }
  } else if (uid[0] === "g") {
    const g = m.groups[+uid.slice(1)];
    m.selected = g.uid;
    if (!g.expanded) setExpanded(g, true); else applyMarks();
    if (g.kind === "kernel") showKernel(g.kernel.name); else showGroup(g);
  } else {
    const n = m.byId.get(+uid.slice(1));
    m.selected = n.uid;
    applyMarks();
    showNode(n);
  }
});
