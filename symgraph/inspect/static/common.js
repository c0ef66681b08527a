/* symgraph interactive graph view (plain JS, no libraries). symgraph.inspect.html joins
 * common.js, model.js, layout.js, draw.js and viewer.js, in this order, into the page's
 * only script, one function scope in strict mode.
 *
 * The page data (a JSON script element, "symgraph-data") holds one or two node-link graphs
 * (symgraph.inspect.export.to_json: as written and as compiled), kernel sources, the
 * memory plan and kernel times. Name scopes, loop bodies and (compiled) fused kernels
 * become nested groups; a collapsed group is drawn as one box. Each expanded group is
 * laid out on its own, from its visible children only (layered: longest-path layers,
 * barycenter sweeps, least-squares placement), and the result is kept until something
 * inside the group is expanded or collapsed, so hidden nodes cost nothing.
 *
 * This file: the page data, sizes, text measuring, colours and formatting.
 */

const DATA = JSON.parse(document.getElementById("symgraph-data").textContent);
// must match --ui in viewer.css: labels are measured with it
const FAMILY = '"DejaVu Sans", system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif';
const FONT = "11px " + FAMILY;
const FONT_BOLD = "bold 11px " + FAMILY;
const S = {
  nodeH: 34, lineH: 13, padX: 10, minW: 70, maxW: 230, boxH: 42, stack: 4,
  pad: 14, head: 24, dummy: 6, maxSpan: 24, sweeps: 6,
  gapMain: { TB: 44, LR: 64 }, gapCross: { TB: 22, LR: 16 },
};
const FAMILY_NAMES = {
  placeholder: "input (placeholder)", variable: "variable", constant: "constant",
  elementwise: "elementwise", reduce: "reduction", view: "view (no copy)", kernel: "op kernel",
};

// -- small helpers --------------------------------------------------------------------
const $ = (id) => document.getElementById(id);
const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ESC[c]);
const r1 = (v) => Math.round(v * 10) / 10;

function shapeStr(shape) {
  if (shape == null) return "<unknown rank>";
  const dims = shape.map((d) => (d == null ? "None" : String(d)));
  return "(" + dims.join(", ") + (dims.length === 1 ? ",)" : ")");
}
const shapeLabel = (shape) => (shape == null ? "(?)" : shapeStr(shape));

function fmtBytes(n) {
  if (n == null) return "unknown";
  if (n < 1024) return n + " B";
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n / 1024, u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
  return v.toFixed(v < 10 ? 2 : 1) + " " + units[u];
}
const fmtInt = (n) => (n == null ? "" : n.toLocaleString("en-US"));
function fmtTime(s) {
  if (s == null) return "";
  if (s < 1e-3) return (s * 1e6).toFixed(1) + " \u00b5s";
  if (s < 1) return (s * 1e3).toFixed(2) + " ms";
  return s.toFixed(3) + " s";
}
const lastPart = (name) => name.slice(name.lastIndexOf("/") + 1);

const measure = document.createElement("canvas").getContext("2d");
const widths = new Map();
function textW(text, bold) {
  const key = (bold ? "\u0001" : "") + text;
  let w = widths.get(key);
  if (w === undefined) {
    measure.font = bold ? FONT_BOLD : FONT;
    w = measure.measureText(text).width;
    widths.set(key, w);
  }
  return w;
}
function fitText(text, bold, max) {
  if (textW(text, bold) <= max) return text;
  let lo = 0, hi = text.length;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (textW(text.slice(0, mid) + "\u2026", bold) <= max) lo = mid; else hi = mid - 1;
  }
  return text.slice(0, lo) + "\u2026";
}

function hexRgb(hex) {
  const v = parseInt(hex.replace("#", ""), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}
const rgb = (c) => "rgb(" + c.map((x) => Math.round(x)).join(",") + ")";
const mix = (a, b, t) => a.map((x, i) => x + (b[i] - x) * t);
const HEAT = [hexRgb("#fff9db"), hexRgb("#ffa94d"), hexRgb("#fa5252")];  // as .heat in viewer.css
function heat(t) {
  t = Math.max(0, Math.min(1, t));
  return rgb(t < 0.5 ? mix(HEAT[0], HEAT[1], t * 2) : mix(HEAT[1], HEAT[2], t * 2 - 1));
}

(function familyStyles() {  // one rule per op family, from the colours the exports use
  const rules = [];
  for (const [fam, colour] of Object.entries(DATA.colours)) {
    const edge = rgb(hexRgb(colour).map((x) => x * 0.62));
    rules.push(`.fam-${fam} rect.body, rect.lite.fam-${fam} { fill: ${colour}; stroke: ${edge}; }`);
  }
  const style = document.createElement("style");
  style.textContent = rules.join("\n");
  document.head.appendChild(style);
})();
