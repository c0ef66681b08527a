/* symgraph view: sizes of what is drawn, and the layered layout of one group's children. */

// -- layout ---------------------------------------------------------------------------------
function shortName(n) {
  for (let g = n.container; g; g = g.parent) {
    if (g.kind === "scope" && n.name.startsWith(g.path + "/")) return n.name.slice(g.path.length + 1);
    if (g.kind === "scope" || g.kind === "root") break;
  }
  return n.name;
}

function nodeLines(n, m) {
  const lines = [shortName(n), n.op + "  " + shapeLabel(n.shape)];
  if (m.compiled && n.kernel && !m.fused.has(n.id)) {
    const k = m.kernels.get(n.kernel);
    if (k) {  // time on the node the kernel stores; a lone member of a fused loop: its kind
      const t = DATA.profile && k.node === n.id ? DATA.profile[k.name] : null;
      lines.push(k.name + " \u00b7 " + (t != null ? fmtTime(t) : k.kind));
    }
  }
  return lines;
}

function boxLines(g, m) {
  const lines = [g.label, `${g.count} node${g.count === 1 ? "" : "s"} \u00b7 ${shapeLabel(g.outNode.shape)}`];
  if (m.compiled && g.kernels) {
    lines.push(`${g.kernels} kernel${g.kernels === 1 ? "" : "s"}` +
      (DATA.profile ? " \u00b7 " + fmtTime(g.time) : ""));
  }
  return lines;
}

/* An expanded group's header: its name (bold) and what it holds. */
function headParts(g) {
  if (g.kind === "kernel") {
    const t = DATA.profile && DATA.profile[g.kernel.name];
    const part = g.whole ? "" : ` \u00b7 ${g.count} of ${g.kernel.members.length} nodes`;
    return [g.kernel.name, "  " + g.kernel.kind + part + (t != null ? " \u00b7 " + fmtTime(t) : "")];
  }
  return [g.label, `  ${g.count} node${g.count === 1 ? "" : "s"}`];
}
const headWidth = (g) => { const [a, b] = headParts(g); return textW(a, true) + textW(b, false); };

function sizeOf(lines) {
  let w = 0;
  lines.forEach((t, i) => { w = Math.max(w, textW(t, i === 0)); });
  return Math.ceil(Math.min(S.maxW, Math.max(S.minW, w + 2 * S.padX)));
}

function layoutGroup(g, m) {
  if (!g.dirty && g.laidDir === m.dir) return;
  for (const it of g.items) {
    if (it.gid === undefined) {
      it.lines = nodeLines(it, m);
      it.w = sizeOf(it.lines);
      it.h = S.nodeH + (it.lines.length > 2 ? S.lineH : 0);
    } else if (it.expanded) {
      layoutGroup(it, m);
    } else {
      it.lines = boxLines(it, m);
      it.w = sizeOf(it.lines) + S.stack;
      it.h = S.boxH + (it.lines.length > 2 ? S.lineH : 0) + S.stack;
    }
  }
  const index = new Map(g.items.map((it, i) => [it, i]));
  const edges = [];
  for (const e of g.levels.values()) edges.push({ a: index.get(e.a), b: index.get(e.b), level: e });
  const ins = [...g.extIn].map(([it, source]) => [index.get(it), source]);
  const size = layered(g.items, edges, m.dir, ins, [...g.extOut].map((it) => index.get(it)));
  g.cw = size.w;
  g.ch = size.h;
  g.ports = size.ports;
  if (g.kind !== "root") {
    g.w = Math.ceil(Math.max(size.w + 2 * S.pad, headWidth(g) + 2 * S.pad + 22));
    g.h = Math.ceil(size.h + 2 * S.pad + S.head);
    g.offX = (g.w - size.w) / 2;
  }
  g.dirty = false;
  g.laidDir = m.dir;
}

/* A binary min-heap of item indices by key (for the topological order). */
function heapOf(key) {
  const a = [];
  const less = (i, j) => key[a[i]] < key[a[j]];
  const swap = (i, j) => { const t = a[i]; a[i] = a[j]; a[j] = t; };
  return {
    get size() { return a.length; },
    push(v) {
      a.push(v);
      for (let i = a.length - 1; i > 0;) {
        const p = (i - 1) >> 1;
        if (!less(i, p)) break;
        swap(i, p);
        i = p;
      }
    },
    pop() {
      const top = a[0], last = a.pop();
      if (a.length) {
        a[0] = last;
        for (let i = 0; ;) {
          const l = 2 * i + 1, r = l + 1;
          let s = i;
          if (l < a.length && less(l, s)) s = l;
          if (r < a.length && less(r, s)) s = r;
          if (s === i) break;
          swap(i, s);
          i = s;
        }
      }
      return top;
    },
  };
}

/* Layered layout of one group's children. Sets each item's x, y (top left, relative to
   the group's content), each level edge's route points and the group's ports (the
   routes from its top to the children fed from outside, and from the children read
   outside to its bottom); returns the content size. */
function layered(items, edges, dir, extIn, extOut) {
  const k = items.length, TB = dir === "TB";
  const gapC = S.gapCross[dir], gapM = S.gapMain[dir];
  const keys = new Float64Array(k);
  items.forEach((it, i) => { keys[i] = it.key; });
  const outE = [], succ = [], pred = [], indeg = new Int32Array(k);
  for (let i = 0; i < k; i++) { outE.push([]); succ.push([]); pred.push([]); }
  for (const e of edges) { outE[e.a].push(e); indeg[e.b]++; }
  // topological order, oldest ready item first; a cycle (groups feeding each other)
  // is broken at its oldest item, whose remaining in-edges are turned around
  const byKey = items.map((_, i) => i).sort((i, j) => keys[i] - keys[j]);
  const ready = heapOf(keys), done = new Uint8Array(k), rank = new Int32Array(k);
  let next = 0, scan = 0;
  for (let i = 0; i < k; i++) if (!indeg[i]) ready.push(i);
  while (next < k) {
    let v;
    if (ready.size) v = ready.pop();
    else { while (done[byKey[scan]]) scan++; v = byKey[scan]; }
    if (done[v]) continue;
    done[v] = 1;
    rank[v] = next++;
    for (const e of outE[v]) if (!done[e.b] && --indeg[e.b] === 0) ready.push(e.b);
  }
  const order = byKey.slice().sort((i, j) => rank[i] - rank[j]);
  for (const e of edges) {
    e.rev = rank[e.a] > rank[e.b];
    e.u = e.rev ? e.b : e.a;
    e.v = e.rev ? e.a : e.b;
    succ[e.u].push(e);
    pred[e.v].push(e);
  }
  const layer = new Int32Array(k);  // longest path from the sources
  for (const v of order) for (const e of pred[v]) layer[v] = Math.max(layer[v], layer[e.u] + 1);
  for (const v of order) {  // sources (weights, constants) sit next to their first reader
    if (pred[v].length || !succ[v].length) continue;
    let lo = Infinity;
    for (const e of succ[v]) lo = Math.min(lo, layer[e.v]);
    layer[v] = lo - 1;
  }
  let last = 0;
  for (let i = 0; i < k; i++) last = Math.max(last, layer[i]);
  // virtual nodes: the items, ports, and dummies along edges spanning several layers
  const V = [];
  const vnode = (l, it, key) => {
    V.push({ layer: l, cs: it ? (TB ? it.w : it.h) : S.dummy, ms: it ? (TB ? it.h : it.w) : 0,
      key, up: [], down: [], w: it ? 1 : 2, dummy: !it, pos: 0, c: 0, bc: 0 });
    return V.length - 1;
  };
  for (let i = 0; i < k; i++) vnode(layer[i], items[i], rank[i]);
  const join = (x, y) => { V[x].down.push(y); V[y].up.push(x); };
  let budget = 4 * k + 400;  // dummies in all: long edges beyond it are drawn direct
  const route = (u, v, key) => {  // virtual nodes from u to v (exclusive), joined up
    const chain = [], span = V[v].layer - V[u].layer;
    let prev = u;
    if (span > 1 && span <= S.maxSpan && budget >= span) {
      budget -= span - 1;
      for (let l = V[u].layer + 1; l < V[v].layer; l++) {
        const d = vnode(l, null, key);
        chain.push(d);
        join(prev, d);
        prev = d;
      }
    }
    join(prev, v);
    return chain;
  };
  for (const e of edges) e.chain = route(e.u, e.v, rank[e.u] + 0.5);
  // a child fed from outside below the top layer enters through a port in the top
  // layer; one read outside above the bottom layer leaves through one in the bottom
  // layer: the route to the group's border then crosses no sibling
  const ports = [];
  // (an in-port starts in the order of its oldest outside source among the items)
  const rankOfKey = (key) => {
    let lo = 0, hi = k;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (keys[byKey[mid]] < key) lo = mid + 1; else hi = mid; }
    return lo < k ? rank[byKey[lo]] - 0.5 : k;
  };
  for (const [i, source] of extIn) {
    if (!layer[i]) continue;
    const key = rankOfKey(source), p = vnode(0, null, key);
    ports.push({ item: items[i], out: false, chain: [p].concat(route(p, i, key)) });
  }
  for (const i of extOut) {
    if (layer[i] === last) continue;
    const p = vnode(last, null, k + 1);
    const chain = route(i, p, rank[i] + 0.5);
    ports.push({ item: items[i], out: true, chain: chain.concat([p]) });
  }
  let nL = 0;
  for (const x of V) nL = Math.max(nL, x.layer + 1);
  const L = [];
  for (let l = 0; l < nL; l++) L.push([]);
  V.forEach((x, i) => { L[x.layer].push(i); });
  const renumber = (row) => row.forEach((v, i) => { V[v].pos = i; });
  for (const row of L) { row.sort((p, q) => V[p].key - V[q].key); renumber(row); }
  for (let s = 0; s < S.sweeps; s++) {  // barycenter ordering, down and up
    const down = s % 2 === 0;
    for (let j = 0; j < nL; j++) {
      const row = L[down ? j : nL - 1 - j];
      for (const v of row) {
        const nb = down ? V[v].up : V[v].down;
        let sum = 0;
        for (const u of nb) sum += V[u].pos;
        V[v].bc = nb.length ? sum / nb.length : V[v].pos;
      }
      row.sort((p, q) => V[p].bc - V[q].bc || V[p].pos - V[q].pos);
      renumber(row);
    }
  }
  const gap = (p, q) => (V[p].dummy || V[q].dummy ? gapC / 2 : gapC);
  for (const row of L) {
    let t = 0;
    row.forEach((v, i) => {
      if (i) t += gap(row[i - 1], v);
      V[v].c = t + V[v].cs / 2;
      t += V[v].cs;
    });
    for (const v of row) V[v].c -= t / 2;
  }
  // least-squares placement in the layer order: pool adjacent violators on the
  // positions minus their minimal offsets (which must then not decrease)
  function place(row, want) {
    const n = row.length;
    const off = new Float64Array(n);
    for (let i = 1; i < n; i++) off[i] = off[i - 1] + (V[row[i - 1]].cs + V[row[i]].cs) / 2 + gap(row[i - 1], row[i]);
    const bv = [], bw = [], bn = [];
    for (let i = 0; i < n; i++) {
      let v = want[i] - off[i], w = V[row[i]].w, c = 1;
      while (bv.length && bv[bv.length - 1] > v) {
        const pw = bw.pop();
        v = (v * w + bv.pop() * pw) / (w + pw);
        w += pw;
        c += bn.pop();
      }
      bv.push(v); bw.push(w); bn.push(c);
    }
    let i = 0;
    for (let b = 0; b < bv.length; b++) for (let j = 0; j < bn[b]; j++, i++) V[row[i]].c = bv[b] + off[i];
  }
  // Each node wants the mean position of its neighbours in the layer swept from, but
  // long edges come first: a node next to a dummy wants the dummies' position, and
  // dummies hardly give way (weight), so long edges run straight and chains of nodes
  // with a skip edge (x + f(x)) do not drift sideways layer after layer.
  for (const x of V) if (x.dummy) x.w = 1000;
  for (const pass of ["up", "down", "up", "down", "both"]) {
    for (let j = 0; j < nL; j++) {
      const row = L[pass === "down" ? nL - 1 - j : j];
      const want = row.map((v) => {
        const x = V[v];
        let nb = pass === "up" ? x.up : pass === "down" ? x.down : x.up.concat(x.down);
        if (!nb.length) return x.c;
        const long = nb.filter((u) => V[u].dummy);
        if (long.length) nb = long;
        let sum = 0;
        for (const u of nb) sum += V[u].c;
        return sum / nb.length;
      });
      place(row, want);
    }
  }
  const thick = new Float64Array(nL), start = new Float64Array(nL);
  for (const x of V) thick[x.layer] = Math.max(thick[x.layer], x.ms);
  for (let l = 0; l < nL; l++) {
    thick[l] = Math.max(thick[l], 8);
    if (l) start[l] = start[l - 1] + thick[l - 1] + gapM;
  }
  let lo = Infinity, hi = -Infinity;
  for (const x of V) { lo = Math.min(lo, x.c - x.cs / 2); hi = Math.max(hi, x.c + x.cs / 2); }
  const point = (x) => {
    const main = start[x.layer] + thick[x.layer] / 2, cross = x.c - lo;
    return TB ? [cross, main] : [main, cross];
  };
  for (let i = 0; i < k; i++) {
    const [cx, cy] = point(V[i]), it = items[i];
    // a collapsed group's stack shadow hangs off its box: centre the box itself
    const off = it.gid !== undefined && !it.expanded ? S.stack / 2 : 0;
    it.x = cx - it.w / 2 + off;
    it.y = cy - it.h / 2 + off;
    it.bandA = start[V[i].layer];
    it.bandB = start[V[i].layer] + thick[V[i].layer];
  }
  // a route passes a layer as a straight run through its whole band, so that its
  // bends (between layers) never cut into a tall neighbour in the band
  const band = (d) => {
    const x = V[d], cross = x.c - lo, a = start[x.layer], b = a + thick[x.layer];
    return TB ? [[cross, a], [cross, b]] : [[a, cross], [b, cross]];
  };
  const through = (chain) => chain.flatMap(band);
  for (const e of edges) {
    const pts = through(e.chain);
    e.level.pts = e.rev ? pts.reverse() : pts;
  }
  const portMap = { in: new Map(), out: new Map() };
  for (const p of ports) portMap[p.out ? "out" : "in"].set(p.item, through(p.chain));
  const main = nL ? start[nL - 1] + thick[nL - 1] : 0, cross = V.length ? hi - lo : 0;
  return TB ? { w: cross, h: main, ports: portMap } : { w: main, h: cross, ports: portMap };
}
