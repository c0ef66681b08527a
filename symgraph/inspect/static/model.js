/* symgraph view: the model of one graph, its nodes in nested groups (name scopes, loop
   bodies, fused kernels), with each edge filed under the group holding both its ends. */

// -- the model: nodes in nested groups ----------------------------------------------------
function buildModel(graph, compiled) {
  const nodes = graph.nodes, byId = new Map();
  for (const n of nodes) {
    byId.set(n.id, n);
    n.uid = "n" + n.id;
    n.key = n.id;
    n.fam = n.kind === "leaf" && DATA.colours[n.op] ? n.op : n.kind;
    n.ins = [];
    n.outs = [];
  }
  const links = graph.links.filter((l) => byId.has(l.source) && byId.has(l.target));
  for (const l of links) {
    byId.get(l.target).ins.push(l);
    byId.get(l.source).outs.push(l);
  }
  const groups = [];
  function newGroup(kind, path, parent, label) {
    const g = {
      gid: groups.length, uid: "g" + groups.length, kind, path, label, parent,
      depth: parent ? parent.depth + 1 : 0, groups: [], nodes: [], items: [], count: 0,
      key: Infinity, maxId: -1, outNode: null, expanded: kind === "root" || kind === "kernel",
      dirty: true, levels: new Map(), kernels: 0, time: 0, kernel: null,
      extIn: new Map(), extOut: new Set(), ports: null, ox: 0, oy: 0,
    };
    g.chain = parent ? parent.chain.concat([g]) : [g];
    if (parent) parent.groups.push(g);
    groups.push(g);
    return g;
  }
  const root = newGroup("root", "", null, graph.graph.label || "");
  const scopes = new Map();
  function scopeGroup(path) {
    if (!path) return root;
    let g = scopes.get(path);
    if (g) return g;
    const cut = path.lastIndexOf("/");
    g = newGroup("scope", path, scopeGroup(cut < 0 ? "" : path.slice(0, cut)), path.slice(cut + 1));
    scopes.set(path, g);
    return g;
  }
  const loopInfo = new Map((graph.loops || []).map((l) => [l.uid, l]));
  const loops = new Map();
  function loopGroup(uid) {
    let g = loops.get(uid);
    if (g) return g;
    const info = loopInfo.get(uid);
    const scan = info && info.scan != null ? byId.get(info.scan) : null;
    const label = (scan ? lastPart(scan.name) + " \u00b7 " : "") + (info ? info.kind : "loop") + " body";
    g = newGroup("loop", "loop " + uid, scan ? baseContainer(scan) : root, label);
    loops.set(uid, g);
    return g;
  }
  const baseContainer = (n) => (n.loop != null ? loopGroup(n.loop) : scopeGroup(n.scope));
  function common(a, b) {
    while (a.depth > b.depth) a = a.parent;
    while (b.depth > a.depth) b = b.parent;
    while (a !== b) { a = a.parent; b = b.parent; }
    return a;
  }
  const kernels = new Map();
  for (const k of graph.kernels || []) kernels.set(k.name, k);
  // A fused kernel is a shaded group in each scope holding two or more of its
  // members (a loop fuses across layers: one group at a common ancestor would tear
  // nodes out of their scopes and make scopes and kernels feed each other).
  const fused = new Map();  // node id -> its fused kernel's group (compiled view)
  if (compiled) {
    for (const k of kernels.values()) {
      const parts = new Map();
      for (const id of k.members) {
        const mb = byId.get(id);
        if (!mb) continue;
        const c = baseContainer(mb);
        if (!parts.has(c)) parts.set(c, []);
        parts.get(c).push(mb);
      }
      for (const [c, members] of parts) {
        if (members.length < 2) continue;
        const g = newGroup("kernel", "kernel " + k.name + (parts.size > 1 ? " in " + (c.path || "/") : ""), c, k.name);
        g.kernel = k;
        g.whole = members.length === k.members.length;
        for (const mb of members) fused.set(mb.id, g);
      }
    }
  }
  for (const n of nodes) {
    const c = fused.get(n.id) || baseContainer(n);
    n.container = c;
    n.chain = c.chain;
    c.nodes.push(n);
    for (const g of c.chain) {
      g.count++;
      if (n.id < g.key) g.key = n.id;
      if (n.id > g.maxId) g.maxId = n.id;
      if (n.is_output && (!g.outNode || n.id > g.outNode.id)) g.outNode = n;
    }
  }
  for (const l of links) {
    const s = byId.get(l.source), t = byId.get(l.target);
    const sc = s.chain, tc = t.chain;
    // the groups s leaves on its way to t: s is one of their outputs
    for (let d = sc.length - 1; d >= 1 && tc[d] !== sc[d]; d--) {
      if (!sc[d].outNode || s.id > sc[d].outNode.id) sc[d].outNode = s;
    }
    // the edge belongs to the deepest group holding both ends, between its children
    let d = 0;
    while (d + 1 < sc.length && d + 1 < tc.length && sc[d + 1] === tc[d + 1]) d++;
    const a = sc[d + 1] || s, b = tc[d + 1] || t, key = a.uid + ">" + b.uid;
    let e = sc[d].levels.get(key);
    if (!e) { e = { a, b, links: [], pts: [] }; sc[d].levels.set(key, e); }
    e.links.push(l);
    // the groups the link enters and leaves, with their child holding its end
    for (let D = d + 1; D < tc.length; D++) {  // (with the oldest source, to order ports)
      const item = tc[D + 1] || t, old = tc[D].extIn.get(item);
      tc[D].extIn.set(item, old === undefined ? s.id : Math.min(old, s.id));
    }
    for (let D = d + 1; D < sc.length; D++) sc[D].extOut.add(sc[D + 1] || s);
  }
  const time = DATA.profile || {};
  for (const k of kernels.values()) {
    const n = byId.get(k.node);
    if (!n) continue;
    for (const g of n.chain) { g.kernels++; g.time += time[k.name] || 0; }
  }
  for (const g of groups) {
    if (!g.outNode && g.count) g.outNode = byId.get(g.maxId);
    g.items = g.groups.filter((c) => c.count > 0).concat(g.nodes);
    g.items.sort((p, q) => p.key - q.key);
  }
  const model = {
    graph, compiled, nodes, byId, links, groups, root, kernels, dir: "TB",
    view: null, matches: [], current: -1, selected: null, drawn: [], fused,
  };
  // a graph wrapped in one scope (a Keras model's name) opens at its layers
  let g = root;
  for (;;) {
    const inner = g.items.filter((it) => it.gid !== undefined && it.kind !== "kernel");
    if (inner.length !== 1 || g.items.length > 5) break;
    inner[0].expanded = true;
    g = inner[0];
  }
  return model;
}
