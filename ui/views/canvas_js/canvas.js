// The Playground's canvas: a Streamlit components-v2 module (no build step), also embedded as-is in the
// standalone HTML export (ui/views/canvas_payload.py turns the module's entry point at the end into a plain function).
//
// Draws what Python computed (ui/views/canvas_payload.py: canvas_payload) on a <canvas>:
//   background  the class/confidence grid (uint8 "shade", ui/state/grids.py shade_of), one ImageData per frame
//   overlay     grey where the model disagrees with the retrain band's majority (where the retrains agree),
//               yellow where the retrains split among themselves
//   lines       the model's boundary (solid), frame 0's boundary (faint), the retrain majority (dashed)
//   points      train filled, test hollow, forgotten crosses, selected rings
// Everything interactive stays here: click / box / lasso selection, wheel zoom and pan, hover readout,
// Draw-mode clicks, and the animation (requestAnimationFrame). Python hears of a gesture once, through
// setTriggerValue("event", {...}) with the resulting full selection (idempotent: a lost event is healed
// by the next), or the drawn / removed points not yet acknowledged (data.ack).
// Live mode (data.live): the frames are a forget request still running; the next data of the same run brings
// more, and the player plays on into them instead of stopping at the last frame (every frame is a real
// optimiser step). A new payload of the same run keeps the optimiser step shown, whatever frames it keeps, and
// after the first leaves out frames this canvas already holds (framesOf).

const PREFIX = "ulc";
const SPEEDS = [1, 2, 4, 8, 15, 30, 60];  // optimiser steps (frames) per second
const DEFAULT_SPEED = 8;
const HIT_PX = 9;  // a click within this many pixels of a point's centre hits it
const ALPHA_SCALE = 250, ALPHA_NONE = 255;  // alpha(x) as one byte per point (canvas_payload.py)

function b64bytes(s) {
  if (!s) return new Uint8Array(0);
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function b64float32(s) {
  const b = b64bytes(s);
  return new Float32Array(b.buffer, b.byteOffset, Math.floor(b.length / 4));
}

function hexRgb(h) {
  const v = parseInt(h.replace("#", ""), 16);
  return [(v >> 16) & 255, (v >> 8) & 255, v & 255];
}

function niceTicks(lo, hi, n) {
  const span = hi - lo;
  if (!(span > 0)) return [];
  const raw = span / Math.max(1, n);
  const mag = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 2.5, 5, 10].map(m => m * mag).find(s => s >= raw) || raw;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  return out;
}

function fmtTick(v) {
  const a = Math.abs(v);
  if (a === 0) return "0";
  if (a >= 1000 || a < 0.01) return v.toExponential(1);
  return String(Number(v.toFixed(2)));
}

// Marching squares on the indicator (cls == c) with corners at cell centres; segments in grid units
// [x0, y0, x1, y1] (x = column j, y = row i, row 0 = the lowest y).
function boundarySegments(cls, r, k) {
  const segs = [];
  const classes = k <= 2 ? [0] : Array.from({length: k}, (_, c) => c);
  for (const c of classes) {
    for (let i = 0; i < r - 1; i++) {
      for (let j = 0; j < r - 1; j++) {
        const a = cls[i * r + j] === c, b = cls[i * r + j + 1] === c;
        const d = cls[(i + 1) * r + j] === c, e = cls[(i + 1) * r + j + 1] === c;
        const idx = (a ? 1 : 0) | (b ? 2 : 0) | (e ? 4 : 0) | (d ? 8 : 0);
        if (idx === 0 || idx === 15) continue;
        // edge midpoints: bottom (a-b), right (b-e), top (d-e), left (a-d)
        const B = [j + 0.5, i], R = [j + 1, i + 0.5], T = [j + 0.5, i + 1], L = [j, i + 0.5];
        const add = (p, q) => segs.push(p[0], p[1], q[0], q[1]);
        switch (idx) {
          case 1: case 14: add(L, B); break;
          case 2: case 13: add(B, R); break;
          case 3: case 12: add(L, R); break;
          case 4: case 11: add(R, T); break;
          case 6: case 9: add(B, T); break;
          case 7: case 8: add(L, T); break;
          case 5: add(L, T); add(B, R); break;
          case 10: add(L, B); add(R, T); break;
        }
      }
    }
  }
  return new Float32Array(segs);
}

class CanvasView {
  constructor(root, hooks) {
    this.root = root;
    this.hooks = hooks || {};
    this.tool = "click";
    this.view = null;  // [x0, x1, y0, y1] shown
    this.frame = 0;
    this.playing = false;
    this.speed = DEFAULT_SPEED;
    this.seq = 0;  // gestures sent
    this.localSel = null;  // the selection shown while Python has not acknowledged our last gesture
    this.pendingAdds = [];  // [seq, x, y, cls]
    this.pendingRemoves = [];  // [seq, id]
    this.hover = -1;
    this.focusId = -1;
    this.drag = null;
    this.touches = new Map();  // touch pointers down: id -> [x, y]; two of them pinch-zoom
    this.pinch = null;
    this.cache = new Map();
    this.lastRun = null;
    this.build();
  }

  // --- DOM ------------------------------------------------------------------------------------------
  build() {
    const r = this.root;
    r.innerHTML = "";
    r.classList.add(`${PREFIX}-root`);
    r.setAttribute("data-testid", "jit-canvas");
    const el = (tag, cls, parent, attrs) => {
      const e = document.createElement(tag);
      if (cls) e.className = cls;
      for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
      (parent || r).appendChild(e);
      return e;
    };
    const bar = el("div", `${PREFIX}-toolbar`, r, {role: "toolbar", "aria-label": "Canvas tools"});
    this.toolButtons = {};
    for (const [t, label, tip] of [["click", "Click", "Click a point to select or deselect it; drag to pan"],
                                   ["box", "Box", "Drag a rectangle: every training point inside joins the selection"],
                                   ["lasso", "Lasso", "Draw around points: every training point inside joins the selection"]]) {
      const b = el("button", `${PREFIX}-btn`, bar, {type: "button", "data-tool": t, title: tip, "aria-pressed": "false"});
      b.textContent = label;
      b.addEventListener("click", () => this.setTool(t));
      this.toolButtons[t] = b;
    }
    el("span", `${PREFIX}-sep`, bar);
    this.zoomIn = el("button", `${PREFIX}-btn`, bar, {type: "button", "data-action": "zoom-in", title: "Zoom in"});
    this.zoomIn.textContent = "+";
    this.zoomIn.addEventListener("click", () => this.zoomAt(null, 1 / 1.5));
    this.zoomOut = el("button", `${PREFIX}-btn`, bar, {type: "button", "data-action": "zoom-out", title: "Zoom out"});
    this.zoomOut.textContent = "−";
    this.zoomOut.addEventListener("click", () => this.zoomAt(null, 1.5));
    this.resetBtn = el("button", `${PREFIX}-btn`, bar, {type: "button", "data-action": "reset-zoom",
                                                        title: "Show the whole canvas again (also: double-click)"});
    this.resetBtn.textContent = "Reset zoom";
    this.resetBtn.addEventListener("click", () => this.resetView());
    el("span", `${PREFIX}-sep`, bar);
    this.clearBtn = el("button", `${PREFIX}-btn`, bar, {type: "button", "data-action": "clear", title: "Deselect every point"});
    this.clearBtn.textContent = "Clear";
    this.clearBtn.addEventListener("click", () => this.commitSelection(new Set(), "clear", []));
    this.pngBtn = el("button", `${PREFIX}-btn`, bar, {type: "button", "data-action": "png",
                                                      title: "Download the canvas as shown, as a PNG image"});
    this.pngBtn.textContent = "PNG";
    this.pngBtn.addEventListener("click", () => this.downloadPng());

    this.wrap = el("div", `${PREFIX}-wrap`);
    this.canvas = el("canvas", `${PREFIX}-canvas`, this.wrap, {role: "img", tabindex: "-1"});
    this.readout = el("div", `${PREFIX}-readout`, this.wrap, {"aria-live": "polite"});
    this.note = el("div", `${PREFIX}-note`, this.wrap, {role: "status", "aria-live": "polite"});

    const pl = this.player = el("div", `${PREFIX}-player`, r, {role: "group", "aria-label": "Animation"});
    this.playBtn = el("button", `${PREFIX}-btn ${PREFIX}-play`, pl, {type: "button", "data-action": "play"});
    this.playBtn.addEventListener("click", () => this.togglePlay());
    this.prevBtn = el("button", `${PREFIX}-btn`, pl, {type: "button", "data-action": "prev", title: "Previous optimiser step"});
    this.prevBtn.textContent = "◀ step";
    this.prevBtn.addEventListener("click", () => { this.pause(); this.setFrame(this.frame - 1); });
    this.nextBtn = el("button", `${PREFIX}-btn`, pl, {type: "button", "data-action": "next", title: "Next optimiser step"});
    this.nextBtn.textContent = "step ▶";
    this.nextBtn.addEventListener("click", () => { this.pause(); this.setFrame(this.frame + 1); });
    this.scrub = el("input", `${PREFIX}-scrub`, pl, {type: "range", min: "0", max: "0", step: "1", value: "0",
                                                     "aria-label": "Optimiser step shown"});
    this.scrub.addEventListener("input", () => { const f = Number(this.scrub.value); this.pause(); this.setFrame(f); });
    this.stepLabel = el("span", `${PREFIX}-steplabel`, pl, {"aria-live": "off"});
    const sl = el("label", `${PREFIX}-speedlabel`, pl);
    sl.textContent = "speed ";
    this.speedSel = el("select", `${PREFIX}-speed`, sl, {"aria-label": "Playback speed (steps per second)"});
    for (const s of SPEEDS) {
      const o = el("option", null, this.speedSel, {value: String(s)});
      o.textContent = `${s}/s`;
    }
    this.speedSel.value = String(this.speed);
    this.speedSel.addEventListener("change", () => { this.speed = Number(this.speedSel.value); });

    const det = this.listBox = el("details", `${PREFIX}-listbox`, r);
    const sum = el("summary", null, det);
    sum.textContent = "Points (keyboard list: arrow keys move, Space or Enter selects)";
    this.list = el("ol", `${PREFIX}-points`, det, {role: "listbox", "aria-multiselectable": "true",
                                                   "aria-label": "Points on the canvas"});
    this.list.addEventListener("keydown", e => this.onListKey(e));
    this.list.addEventListener("focusin", e => {
      const li = e.target.closest("li");
      if (li) { this.focusId = Number(li.dataset.id); this.draw(); }
    });
    this.list.addEventListener("focusout", () => { this.focusId = -1; this.draw(); });

    const c = this.canvas;
    c.addEventListener("pointerdown", e => this.onDown(e));
    c.addEventListener("pointermove", e => this.onMove(e));
    c.addEventListener("pointerup", e => this.onUp(e));
    c.addEventListener("pointercancel", e => this.onUp(e, true));
    c.addEventListener("pointerleave", () => { if (!this.drag) { this.hover = -1; this.readout.style.display = "none"; this.draw(); } });
    c.addEventListener("wheel", e => this.onWheel(e), {passive: false});
    c.addEventListener("dblclick", () => this.resetView());
    if (typeof ResizeObserver !== "undefined") {
      this.ro = new ResizeObserver(() => this.layout());
      this.ro.observe(this.wrap);
    }
  }

  destroy() {
    this.pause();
    if (this.ro) this.ro.disconnect();
  }

  // --- data from Python -------------------------------------------------------------------------------
  update(d) {
    const sameGeometry = this.d && this.d.bounds.join() === d.bounds.join();
    const shownStep = this.steps && this.steps.length ? this.steps[Math.min(this.frame, this.steps.length - 1)] : 0;
    this.d = d;
    this.r = d.res;
    this.k = Math.max(2, d.k);
    this.colors = d.colors.map(hexRgb);
    this.xy = b64float32(d.xy);
    this.y = b64bytes(d.labels);
    this.alpha = d.alpha ? b64bytes(d.alpha) : null;
    this.role = b64bytes(d.roles);  // 0 train, 1 test, 2 forgotten, 3 hidden
    this.n = this.y.length;
    [this.frames, this.steps] = this.framesOf(d);
    this.ghost = d.ghost ? b64bytes(d.ghost) : null;
    this.agreed = d.agreed ? b64bytes(d.agreed) : null;
    this.cache = new Map();
    this.lut = this.buildLut();
    this.bandOf = this.buildBandOf();
    this.ghostSegs = this.ghost ? boundarySegments(this.ghost, this.r, this.k) : null;
    const ack = d.ack || 0;
    if (ack >= this.seq) {  // Python has seen every gesture: its selection is the truth
      this.localSel = null;
      this.seq = Math.max(this.seq, ack);
    }
    this.pendingAdds = this.pendingAdds.filter(a => a[0] > ack);
    this.pendingRemoves = this.pendingRemoves.filter(a => a[0] > ack);
    this.serverSel = new Set(d.selection || []);
    if (!sameGeometry) this.view = [...d.bounds];
    if (d.mode === "draw" && this.tool !== "click") this.tool = "click";
    for (const [t, b] of Object.entries(this.toolButtons)) {
      b.setAttribute("aria-pressed", String(t === this.tool));
      b.disabled = d.mode === "draw" && t !== "click";
    }
    this.root.dataset.mode = d.mode || "select";
    this.root.dataset.tool = this.tool;
    this.root.dataset.frames = String(this.frames.length);
    this.root.dataset.run = d.run || "";
    this.root.dataset.live = String(!!d.live);
    this.root.dataset.region = d.region ? d.region.map(v => v.toPrecision(4)).join(",") : "";
    this.root.dataset.lastStep = String(this.steps.length ? this.steps[this.steps.length - 1] : 0);
    // A panel (a static figure beside the canvas): zoom, hover and PNG; no selection, no keyboard list.
    const panel = !!d.panel;
    this.root.setAttribute("data-testid", panel ? "jit-canvas-panel" : "jit-canvas");
    for (const b of Object.values(this.toolButtons)) b.style.display = panel ? "none" : "";
    this.listBox.style.display = panel ? "none" : "";
    this.clearBtn.style.display = d.mode === "draw" || panel ? "none" : "";
    // Frames: a new run starts at frame 0 and plays; otherwise keep the frame shown (clamped).
    const n = this.frames.length;
    this.player.style.display = n > 1 ? "" : "none";
    this.scrub.max = String(Math.max(0, n - 1));
    if (d.run && d.run !== this.lastRun) {
      this.lastRun = d.run;
      this.pause();
      const go = d.autoplay && (n > 1 || d.live);
      this.frame = go ? 0 : Math.max(0, n - 1);
      if (!this.M) this.layout();  // a first payload that already autoplays: play() draws, which needs the layout
      if (go) this.play();
    } else if (d.run) {  // the same run, maybe more (or other) frames: keep the optimiser step shown
      let f = 0;
      while (f + 1 < n && this.steps[f + 1] <= shownStep) f++;
      this.frame = f;
    } else {
      this.frame = Math.max(0, n - 1);
    }
    this.layout();
    this.rebuildList();
  }

  // The frames and their steps in `d`. A live payload after the first carries only the frames this canvas does
  // not hold yet (d.new_steps: their steps; d.steps: every frame's step): the rest come from the frames held for
  // the same run. Where one is missing (a payload lost, the canvas mounted anew) it shows what it has and asks
  // Python for everything ("resend", at most once a second).
  framesOf(d) {
    const got = (d.frames || []).map(b64bytes);
    if (!d.new_steps) return [got, d.steps || got.map((_, i) => i)];
    const have = new Map();
    if (d.run && d.run === this.lastRun && this.steps) this.steps.forEach((s, i) => have.set(s, this.frames[i]));
    d.new_steps.forEach((s, i) => have.set(s, got[i]));
    const steps = d.steps.filter(s => have.has(s));
    if (steps.length < d.steps.length) this.askResend();
    return [steps.map(s => have.get(s)), steps];
  }

  askResend() {
    const now = performance.now();
    if (this.resendAt !== undefined && now - this.resendAt < 1000) return;
    this.resendAt = now;
    this.resends = (this.resends || 0) + 1;
    this.root.dataset.resends = String(this.resends);
    if (this.hooks.send) this.hooks.send({kind: "resend"});
  }

  buildLut() {
    // shade value -> RGBA over white: white (unsure) to the class colour (sure), times the opacity.
    const lut = new Uint8ClampedArray(256 * 4);
    const op = this.d.opacity == null ? 0.55 : this.d.opacity;
    const bands = this.d.bands;
    for (let c = 0; c < bands.length; c++) {
      const [lo, hi] = bands[c];
      const col = this.colors[c % this.colors.length];
      for (let v = lo; v <= hi; v++) {
        const s = hi > lo ? (v - lo) / (hi - lo) : 1;
        for (let ch = 0; ch < 3; ch++) lut[v * 4 + ch] = Math.round(255 + (col[ch] - 255) * s * op);
        lut[v * 4 + 3] = 255;
      }
    }
    return lut;
  }

  buildBandOf() {
    const out = new Uint8Array(256);
    this.d.bands.forEach(([lo, hi], c) => { for (let v = lo; v <= hi; v++) out[v] = c; });
    return out;
  }

  frameData(f) {
    if (this.cache.has(f)) return this.cache.get(f);
    const r = this.r, shade = this.frames[f];
    const cls = new Uint8Array(r * r);
    for (let i = 0; i < r * r; i++) cls[i] = this.bandOf[shade[i]];
    const off = document.createElement("canvas");
    off.width = r; off.height = r;
    const ctx = off.getContext("2d");
    const img = ctx.createImageData(r, r);
    const px = img.data, lut = this.lut;
    let disagree = 0, split = 0;
    for (let i = 0; i < r; i++) {
      const row = r - 1 - i;  // grid row 0 is the lowest y: the image's bottom row
      for (let j = 0; j < r; j++) {
        const g = i * r + j, o = (row * r + j) * 4, v = shade[g];
        let R = lut[v * 4], G = lut[v * 4 + 1], B = lut[v * 4 + 2];
        if (this.ghost) {
          let a = 0, cr = 0, cg = 0, cb = 0;
          if (this.agreed && !this.agreed[g]) { a = 0.5; cr = 255; cg = 214; cb = 0; split++; }
          else if (cls[g] !== this.ghost[g]) { a = 0.28; cr = 90; cg = 90; cb = 90; disagree++; }
          if (a) { R += (cr - R) * a; G += (cg - G) * a; B += (cb - B) * a; }
        }
        px[o] = R; px[o + 1] = G; px[o + 2] = B; px[o + 3] = 255;
      }
    }
    ctx.putImageData(img, 0, 0);
    const fd = {img: off, cls, segs: boundarySegments(cls, r, this.k), disagree: disagree / (r * r), split: split / (r * r)};
    this.cache.set(f, fd);
    return fd;
  }

  // --- geometry ---------------------------------------------------------------------------------------
  layout() {
    const w = Math.max(200, this.wrap.clientWidth || 560);
    // At most the height asked for, and small enough that the canvas and its player fit a projector's screen
    // (1280x720) together.
    const asked = this.d && this.d.height ? this.d.height : 560;
    const H = Math.min(asked, Math.max(320, (window.innerHeight || 900) - 270));
    this.M = {l: 44, r: 10, t: this.d && this.d.title ? 26 : 10, b: 28};
    const side = Math.max(120, Math.min(w - this.M.l - this.M.r, H - this.M.t - this.M.b));
    this.side = side;
    this.cssW = this.M.l + side + this.M.r;
    this.cssH = this.M.t + side + this.M.b;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(this.cssW * dpr);
    this.canvas.height = Math.round(this.cssH * dpr);
    this.canvas.style.width = `${this.cssW}px`;
    this.canvas.style.height = `${this.cssH}px`;
    this.dpr = dpr;
    this.draw();
  }

  sx(x) { const v = this.view; return this.M.l + (x - v[0]) / (v[1] - v[0]) * this.side; }
  sy(y) { const v = this.view; return this.M.t + (v[3] - y) / (v[3] - v[2]) * this.side; }
  dx(px) { const v = this.view; return v[0] + (px - this.M.l) / this.side * (v[1] - v[0]); }
  dy(py) { const v = this.view; return v[3] - (py - this.M.t) / this.side * (v[3] - v[2]); }
  inPlot(px, py) { return px >= this.M.l && px <= this.M.l + this.side && py >= this.M.t && py <= this.M.t + this.side; }

  // grid units (column, row) -> data
  gx(j) { const b = this.d.bounds; return b[0] + j * (b[1] - b[0]) / (this.r - 1); }
  gy(i) { const b = this.d.bounds; return b[2] + i * (b[3] - b[2]) / (this.r - 1); }

  selection() {
    return this.localSel || this.serverSel || new Set();
  }

  visible(i) {
    return this.role[i] !== 3 && !this.pendingRemoves.some(p => p[1] === i);
  }

  // --- drawing ----------------------------------------------------------------------------------------
  draw() {
    if (!this.d) return;
    const ctx = this.canvas.getContext("2d");
    const {l, t} = this.M, s = this.side, dpr = this.dpr;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, this.cssW, this.cssH);
    ctx.fillStyle = "#ffffff";
    ctx.fillRect(0, 0, this.cssW, this.cssH);
    ctx.save();
    ctx.beginPath();
    ctx.rect(l, t, s, s);
    ctx.clip();
    const nF = this.frames.length;
    const b = this.d.bounds, r = this.r;
    let fd = null;
    if (nF && r > 1) {
      fd = this.frameData(this.frame);
      const cw = (b[1] - b[0]) / (r - 1), ch = (b[3] - b[2]) / (r - 1);
      const X0 = this.sx(b[0] - cw / 2), X1 = this.sx(b[1] + cw / 2);
      const Y0 = this.sy(b[3] + ch / 2), Y1 = this.sy(b[2] - ch / 2);
      ctx.imageSmoothingEnabled = false;
      ctx.drawImage(fd.img, X0, Y0, X1 - X0, Y1 - Y0);
      // lines: the first frame faint (where the boundary started), the retrain majority dashed, the model solid
      if (nF > 1 && this.frame > 0) this.strokeSegs(ctx, this.frameData(0).segs, "rgba(0,0,0,0.35)", 1.3, []);
      if (this.ghostSegs) this.strokeSegs(ctx, this.ghostSegs, "#000", 2, [7, 5]);
      this.strokeSegs(ctx, fd.segs, "#000", 2.5, []);
    }
    this.drawPoints(ctx);
    if (this.d.region) {  // the Quick selectors' region, previewed while its sliders move
      const [rx0, rx1, ry0, ry1] = this.d.region;
      const X0 = this.sx(rx0), X1 = this.sx(rx1), Y0 = this.sy(ry1), Y1 = this.sy(ry0);
      ctx.setLineDash([6, 3]); ctx.strokeStyle = "#d9a400"; ctx.lineWidth = 2;
      ctx.fillStyle = "rgba(255,200,0,0.12)";
      ctx.fillRect(X0, Y0, X1 - X0, Y1 - Y0);
      ctx.strokeRect(X0, Y0, X1 - X0, Y1 - Y0);
      ctx.setLineDash([]);
    }
    if (this.drag && this.drag.kind === "box") {
      const d = this.drag;
      ctx.setLineDash([4, 3]); ctx.strokeStyle = "#222"; ctx.lineWidth = 1.2;
      ctx.fillStyle = "rgba(30,120,220,0.10)";
      ctx.fillRect(d.x0, d.y0, d.x - d.x0, d.y - d.y0);
      ctx.strokeRect(d.x0, d.y0, d.x - d.x0, d.y - d.y0);
      ctx.setLineDash([]);
    } else if (this.drag && this.drag.kind === "lasso" && this.drag.path.length > 1) {
      const p = this.drag.path;
      ctx.beginPath(); ctx.moveTo(p[0][0], p[0][1]);
      for (const q of p) ctx.lineTo(q[0], q[1]);
      ctx.closePath();
      ctx.fillStyle = "rgba(30,120,220,0.10)"; ctx.fill();
      ctx.setLineDash([4, 3]); ctx.strokeStyle = "#222"; ctx.lineWidth = 1.2; ctx.stroke(); ctx.setLineDash([]);
    }
    ctx.restore();
    this.drawAxes(ctx);
    this.root.dataset.frame = String(this.frame);
    this.root.dataset.step = String(nF ? this.steps[this.frame] : 0);
    this.root.dataset.selected = Array.from(this.selection()).sort((a, b) => a - b).join(",");
    this.root.dataset.view = this.view.map(v => v.toPrecision(6)).join(",");
    this.root.dataset.drawn = String(performance.now());
    if (fd && this.ghost) {
      this.root.dataset.disagrees = fd.disagree.toFixed(4);
      this.root.dataset.split = fd.split.toFixed(4);
    }
    this.syncPlayer();
    this.syncListPositions();
  }

  strokeSegs(ctx, segs, color, width, dash) {
    ctx.beginPath();
    for (let q = 0; q < segs.length; q += 4) {
      ctx.moveTo(this.sx(this.gx(segs[q])), this.sy(this.gy(segs[q + 1])));
      ctx.lineTo(this.sx(this.gx(segs[q + 2])), this.sy(this.gy(segs[q + 3])));
    }
    ctx.strokeStyle = color; ctx.lineWidth = width; ctx.setLineDash(dash); ctx.lineCap = "round";
    ctx.stroke();
    ctx.setLineDash([]);
  }

  color(c) { const col = this.d.colors; return col[c % col.length]; }

  drawPoints(ctx) {
    const sel = this.selection();
    const R = 3.6;
    // test (hollow), then train (filled), then forgotten (crosses) on top
    for (const pass of [1, 0, 2]) {
      for (let i = 0; i < this.n; i++) {
        if (this.role[i] !== pass || !this.visible(i)) continue;
        const X = this.sx(this.xy[2 * i]), Y = this.sy(this.xy[2 * i + 1]);
        if (X < -10 || Y < -10 || X > this.cssW + 10 || Y > this.cssH + 10) continue;
        const col = this.color(this.y[i]);
        if (pass === 0) {
          ctx.beginPath(); ctx.arc(X, Y, R, 0, 2 * Math.PI);
          ctx.fillStyle = col; ctx.fill(); ctx.lineWidth = 0.8; ctx.strokeStyle = "#fff"; ctx.stroke();
        } else if (pass === 1) {
          ctx.beginPath(); ctx.arc(X, Y, R, 0, 2 * Math.PI);
          ctx.fillStyle = "rgba(255,255,255,0.6)"; ctx.fill(); ctx.lineWidth = 1.6; ctx.strokeStyle = col; ctx.stroke();
        } else {
          const a = 4.6;
          ctx.beginPath(); ctx.moveTo(X - a, Y - a); ctx.lineTo(X + a, Y + a); ctx.moveTo(X + a, Y - a); ctx.lineTo(X - a, Y + a);
          ctx.lineCap = "round"; ctx.strokeStyle = "#000"; ctx.lineWidth = 4; ctx.stroke();
          ctx.strokeStyle = col; ctx.lineWidth = 2.2; ctx.stroke();
        }
      }
    }
    for (const [, x, y, c] of this.pendingAdds) {  // drawn, not yet acknowledged by Python
      const X = this.sx(x), Y = this.sy(y);
      ctx.beginPath(); ctx.arc(X, Y, R, 0, 2 * Math.PI);
      ctx.fillStyle = this.color(c); ctx.fill(); ctx.lineWidth = 0.8; ctx.strokeStyle = "#fff"; ctx.stroke();
    }
    ctx.lineWidth = 2.4; ctx.strokeStyle = "#000";
    for (const i of sel) {
      if (i >= this.n || !this.visible(i)) continue;
      ctx.beginPath(); ctx.arc(this.sx(this.xy[2 * i]), this.sy(this.xy[2 * i + 1]), 7.2, 0, 2 * Math.PI); ctx.stroke();
    }
    for (const [i, col] of [[this.hover, "rgba(0,0,0,0.45)"], [this.focusId, "#ff7f0e"]]) {
      if (i < 0 || i >= this.n) continue;
      ctx.beginPath(); ctx.arc(this.sx(this.xy[2 * i]), this.sy(this.xy[2 * i + 1]), 9.5, 0, 2 * Math.PI);
      ctx.lineWidth = 2; ctx.strokeStyle = col; ctx.stroke();
    }
  }

  drawAxes(ctx) {
    const {l, t} = this.M, s = this.side, v = this.view;
    ctx.strokeStyle = "#888"; ctx.lineWidth = 1; ctx.strokeRect(l + 0.5, t + 0.5, s - 1, s - 1);
    ctx.fillStyle = "#333"; ctx.font = "11px sans-serif";
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    for (const x of niceTicks(v[0], v[1], 6)) {
      const X = this.sx(x);
      ctx.beginPath(); ctx.moveTo(X, t + s); ctx.lineTo(X, t + s + 4); ctx.stroke();
      ctx.fillText(fmtTick(x), X, t + s + 6);
    }
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (const y of niceTicks(v[2], v[3], 6)) {
      const Y = this.sy(y);
      ctx.beginPath(); ctx.moveTo(l - 4, Y); ctx.lineTo(l, Y); ctx.stroke();
      ctx.fillText(fmtTick(y), l - 6, Y);
    }
    if (this.d.title) {
      ctx.textAlign = "left"; ctx.textBaseline = "top"; ctx.font = "bold 14px sans-serif"; ctx.fillStyle = "#222";
      ctx.fillText(this.d.title, l, 5);
    }
    const zoomed = this.view.join() !== this.d.bounds.join();
    if (zoomed) {
      ctx.font = "11px sans-serif"; ctx.textAlign = "right"; ctx.textBaseline = "top"; ctx.fillStyle = "#555";
      ctx.fillText(`zoom ×${((this.d.bounds[1] - this.d.bounds[0]) / (v[1] - v[0])).toFixed(1)}`, l + s - 4, t + 4);
    }
  }

  // --- the player -------------------------------------------------------------------------------------
  syncPlayer() {
    const n = this.frames.length;
    this.scrub.value = String(this.frame);
    this.playBtn.textContent = this.playing ? "❚❚ Pause" : "▶ Play";
    this.playBtn.setAttribute("aria-pressed", String(this.playing));
    this.prevBtn.disabled = this.frame <= 0;
    this.nextBtn.disabled = this.frame >= n - 1;
    const last = n ? this.steps[n - 1] : 0;
    this.stepLabel.textContent = n > 1 ? (this.d && this.d.live ? `optimiser step ${this.steps[this.frame]} (${last} computed so far)`
                                                 : `optimiser step ${this.steps[this.frame]} of ${last}`) : "";
  }

  setFrame(f) {
    const n = this.frames.length;
    this.frame = Math.min(Math.max(0, f), Math.max(0, n - 1));
    this.draw();
  }

  togglePlay() { this.playing ? this.pause() : this.play(); }

  play() {
    const n = this.frames.length;
    if (n < 2 && !(this.d && this.d.live)) return;
    if (this.frame >= n - 1 && !(this.d && this.d.live)) this.frame = 0;
    this.playing = true;
    this.root.dataset.playing = "true";
    let last = performance.now(), acc = 0;
    const tick = now => {
      if (!this.playing) return;
      acc += now - last; last = now;
      const per = 1000 / this.speed;
      if (acc >= per) {  // one optimiser step per screen refresh at most: a slow machine plays slower, never skips
        acc = Math.min(acc - per, per);
        if (this.frame < this.frames.length - 1) { this.frame += 1; this.draw(); }
        // live: at the newest frame the player waits, playing, for the frames still being computed
        if (this.frame >= this.frames.length - 1 && !this.d.live) { this.pause(); return; }
      }
      this.raf = requestAnimationFrame(tick);
    };
    this.draw();
    this.raf = requestAnimationFrame(tick);
  }

  pause() {
    this.playing = false;
    if (this.root) this.root.dataset.playing = "false";
    if (this.raf) cancelAnimationFrame(this.raf);
    this.raf = null;
    if (this.d) this.syncPlayer();
  }

  // --- pointer ----------------------------------------------------------------------------------------
  pos(e) {
    const rc = this.canvas.getBoundingClientRect();
    return [e.clientX - rc.left, e.clientY - rc.top];
  }

  nearest(px, py, filter) {
    let best = -1, bd = HIT_PX;
    for (let i = 0; i < this.n; i++) {
      if (!this.visible(i) || (filter && !filter(i))) continue;
      const d = Math.hypot(this.sx(this.xy[2 * i]) - px, this.sy(this.xy[2 * i + 1]) - py);
      if (d < bd) { bd = d; best = i; }
    }
    return best;
  }

  onDown(e) {
    if (!this.d || e.button !== 0) return;
    const [x, y] = this.pos(e);
    if (e.pointerType === "touch") {
      this.touches.set(e.pointerId, [x, y]);
      if (this.touches.size === 2) {  // a second finger: pinch-zoom, and the first finger's drag is not a click
        this.drag = null;
        const [a, b] = [...this.touches.values()];
        this.pinch = {dist: Math.max(1, Math.hypot(a[0] - b[0], a[1] - b[1]))};
        return;
      }
      if (this.touches.size > 2) return;
    }
    if (!this.inPlot(x, y)) return;
    try { this.canvas.setPointerCapture(e.pointerId); } catch (err) { /* a pointer the browser no longer has */ }
    const kind = this.d.mode === "draw" ? "pan" : (this.tool === "click" ? "pan" : this.tool);
    this.drag = {kind, x0: x, y0: y, x, y, moved: false, path: [[x, y]], view: [...this.view]};
  }

  onMove(e) {
    const [x, y] = this.pos(e);
    if (this.touches.has(e.pointerId)) this.touches.set(e.pointerId, [x, y]);
    if (this.pinch) {  // zoom by the change of the fingers' distance, around their midpoint
      if (this.touches.size !== 2) return;
      const [a, b] = [...this.touches.values()];
      const dist = Math.max(1, Math.hypot(a[0] - b[0], a[1] - b[1]));
      this.zoomAt([(a[0] + b[0]) / 2, (a[1] + b[1]) / 2], this.pinch.dist / dist);
      this.pinch.dist = dist;
      return;
    }
    const d = this.drag;
    if (d) {
      d.x = x; d.y = y;
      if (Math.hypot(x - d.x0, y - d.y0) > 4) d.moved = true;
      if (d.kind === "pan" && d.moved) {
        const sx = (d.view[1] - d.view[0]) / this.side, sy = (d.view[3] - d.view[2]) / this.side;
        const ddx = (x - d.x0) * sx, ddy = (y - d.y0) * sy;
        this.view = [d.view[0] - ddx, d.view[1] - ddx, d.view[2] + ddy, d.view[3] + ddy];
      } else if (d.kind === "lasso") {
        d.path.push([x, y]);
      }
      this.draw();
      return;
    }
    this.onHover(x, y);
  }

  onHover(x, y) {
    if (!this.inPlot(x, y)) { this.readout.style.display = "none"; return; }
    const i = this.nearest(x, y);
    const changed = i !== this.hover;
    this.hover = i;
    const lines = [];
    if (i >= 0) {
      const kind = ["training point", "test point", "forgotten point", ""][this.role[i]];
      const sel = this.selection().has(i) ? ", selected" : "";
      lines.push(`#${i} · class ${this.y[i]} · ${kind}${sel}`);
      const a = this.alpha && i < this.alpha.length ? this.alpha[i] : ALPHA_NONE;
      const rad = this.d.alpha_radius;
      // the paper's information measure: the share of x's neighbours within r (standardised units) of its class
      if (a !== ALPHA_NONE) lines.push(`α(x) ${(a / ALPHA_SCALE).toFixed(2)} · neighbours (r ${rad}) of its class`);
      else if (this.alpha && this.role[i] !== 1) lines.push(`α(x) undefined · no neighbour within r ${rad}`);
    }
    const X = this.dx(x), Y = this.dy(y);
    const cell = this.cellAt(X, Y);
    if (cell >= 0 && this.frames.length) {
      const v = this.frames[this.frame][cell], c = this.bandOf[v], [lo, hi] = this.d.bands[c];
      const s = hi > lo ? (v - lo) / (hi - lo) : 1, k = this.k;
      const conf = 1 / k + s * (1 - 1 / k);
      lines.push(`model: class ${c}, confidence ${(100 * conf).toFixed(0)}%`);
      if (this.ghost) lines.push(`retrains' majority: class ${this.ghost[cell]}` +
                                 (this.agreed && !this.agreed[cell] ? " (retrains split)" : ""));
    }
    lines.push(`x ${X.toFixed(2)}, y ${Y.toFixed(2)}`);
    this.readout.textContent = lines.join("\n");
    this.readout.style.display = "block";
    const w = this.readout.offsetWidth || 220;
    const left = x + 14 + w > this.cssW ? x - 14 - w : x + 14;
    this.readout.style.left = `${Math.max(0, left)}px`;
    this.readout.style.top = `${Math.max(0, y + 10)}px`;
    if (changed) this.draw();
  }

  cellAt(X, Y) {
    const b = this.d.bounds, r = this.r;
    const j = Math.round((X - b[0]) / (b[1] - b[0]) * (r - 1)), i = Math.round((Y - b[2]) / (b[3] - b[2]) * (r - 1));
    if (i < 0 || j < 0 || i >= r || j >= r) return -1;
    return i * r + j;
  }

  onUp(e, cancelled = false) {
    this.touches.delete(e.pointerId);
    if (this.pinch) {  // a pinch ends when a finger lifts; nothing else happens until every finger is up
      if (this.touches.size < 2) this.pinch = null;
      this.drag = null;
      return;
    }
    const d = this.drag;
    this.drag = null;
    if (!d) return;
    if (cancelled) { this.draw(); return; }
    try { this.canvas.releasePointerCapture(e.pointerId); } catch (err) { /* already released */ }
    if (!d.moved) { this.onClick(d.x0, d.y0, e); this.draw(); return; }
    if (d.kind === "box" || d.kind === "lasso") {
      const inside = this.pointsInside(d);
      const sel = new Set(this.selection());
      const added = inside.filter(i => !sel.has(i));
      for (const i of inside) sel.add(i);
      this.commitSelection(sel, d.kind, added);
    }
    this.draw();
  }

  selectable(i) { return this.role[i] === 0 && this.visible(i); }

  pointsInside(d) {
    const out = [];
    if (d.kind === "box") {
      const x0 = Math.min(d.x0, d.x), x1 = Math.max(d.x0, d.x), y0 = Math.min(d.y0, d.y), y1 = Math.max(d.y0, d.y);
      for (let i = 0; i < this.n; i++) {
        if (!this.selectable(i)) continue;
        const X = this.sx(this.xy[2 * i]), Y = this.sy(this.xy[2 * i + 1]);
        if (X >= x0 && X <= x1 && Y >= y0 && Y <= y1) out.push(i);
      }
    } else {
      const p = d.path;
      for (let i = 0; i < this.n; i++) {
        if (!this.selectable(i)) continue;
        const X = this.sx(this.xy[2 * i]), Y = this.sy(this.xy[2 * i + 1]);
        let inside = false;
        for (let a = 0, b = p.length - 1; a < p.length; b = a++) {
          if ((p[a][1] > Y) !== (p[b][1] > Y) &&
              X < (p[b][0] - p[a][0]) * (Y - p[a][1]) / (p[b][1] - p[a][1]) + p[a][0]) inside = !inside;
        }
        if (inside) out.push(i);
      }
    }
    return out;
  }

  say(text) {
    this.note.textContent = text;
    this.note.style.display = text ? "block" : "none";
    clearTimeout(this.noteTimer);
    if (text) this.noteTimer = setTimeout(() => { this.note.style.display = "none"; }, 4000);
  }

  onClick(px, py) {
    const d = this.d;
    if (d.mode === "draw") {
      if (d.draw_action === "remove") {
        const i = this.nearest(px, py);
        if (i < 0) { this.say("No point here to remove."); return; }
        this.pendingRemoves.push([++this.seq, i]);
        this.send({kind: "remove", id: i, ver: d.version});
      } else {
        const x = this.dx(px), y = this.dy(py), c = d.draw_class || 0;
        this.pendingAdds.push([++this.seq, x, y, c]);
        this.send({kind: "add", adds: this.pendingAdds.map(a => a.slice()), ver: d.version});
      }
      return;
    }
    if (!d.interactive) return;
    const i = this.nearest(px, py);
    if (i < 0) { this.say(""); return; }
    if (this.role[i] === 1) { this.say(`#${i} is a test point: only training points can be forgotten.`); return; }
    if (this.role[i] === 2) { this.say(`#${i} is already forgotten.`); return; }
    this.say("");
    const sel = new Set(this.selection());
    if (sel.has(i)) sel.delete(i); else sel.add(i);
    this.commitSelection(sel, "click", [i]);
  }

  commitSelection(sel, how, changed) {
    this.localSel = sel;
    this.seq += 1;
    this.draw();
    this.rebuildList();
    this.send({kind: "select", how, ids: changed, selection: Array.from(sel).sort((a, b) => a - b)});
  }

  send(ev) {
    ev.seq = this.seq;
    this.root.dataset.seq = String(this.seq);
    if (this.hooks.send) this.hooks.send(ev);
  }

  onWheel(e) {
    if (!this.d) return;
    const [x, y] = this.pos(e);
    if (!this.inPlot(x, y)) return;
    e.preventDefault();
    this.zoomAt([x, y], Math.exp(Math.max(-0.5, Math.min(0.5, e.deltaY * 0.0015))));
  }

  zoomAt(p, factor) {
    const v = this.view;
    const cx = p ? this.dx(p[0]) : (v[0] + v[1]) / 2, cy = p ? this.dy(p[1]) : (v[2] + v[3]) / 2;
    const b = this.d.bounds, full = b[1] - b[0];
    let w = (v[1] - v[0]) * factor;
    w = Math.min(Math.max(w, full / 50), full * 2);
    const f = w / (v[1] - v[0]);
    this.view = [cx - (cx - v[0]) * f, cx + (v[1] - cx) * f, cy - (cy - v[2]) * f, cy + (v[3] - cy) * f];
    this.draw();
  }

  resetView() { this.view = [...this.d.bounds]; this.draw(); }

  setTool(t) {
    this.tool = t;
    this.root.dataset.tool = t;
    for (const [k, b] of Object.entries(this.toolButtons)) b.setAttribute("aria-pressed", String(k === t));
  }

  downloadPng() {
    const a = document.createElement("a");
    a.href = this.canvas.toDataURL("image/png");
    a.download = "unlearning.png";
    document.body.appendChild(a);
    a.click();
    a.remove();
  }

  // --- the keyboard list ------------------------------------------------------------------------------
  rebuildList() {
    if (this.d && this.d.panel) {  // a panel has no keyboard list (and no points in the DOM to count)
      this.items = new Map();
      this.list.replaceChildren();
      return;
    }
    const sel = this.selection();
    const frag = document.createDocumentFragment();
    const focused = this.list.contains(document.activeElement) ? Number(document.activeElement.dataset.id) : -1;
    let first = true;
    this.items = new Map();
    for (let i = 0; i < this.n; i++) {
      if (!this.visible(i)) continue;
      const li = document.createElement("li");
      const kind = ["train", "test", "forgotten"][this.role[i]];
      li.dataset.id = String(i);
      li.dataset.class = String(this.y[i]);
      li.dataset.kind = kind;
      li.setAttribute("role", "option");
      li.setAttribute("aria-selected", String(sel.has(i)));
      li.tabIndex = (focused >= 0 ? i === focused : first) ? 0 : -1;
      first = false;
      li.textContent = `#${i}, class ${this.y[i]}, ${kind}${sel.has(i) ? ", selected" : ""}`;
      frag.appendChild(li);
      this.items.set(i, li);
    }
    this.list.replaceChildren(frag);
    if (focused >= 0 && this.items.has(focused)) this.items.get(focused).focus();
    this.syncListPositions(true);
  }

  syncListPositions(force) {
    if (!this.items) return;
    const key = `${this.view.join()}|${this.side}|${this.M.l}|${this.M.t}`;
    if (!force && key === this.posKey) return;  // playback redraws without moving points: nothing to update
    this.posKey = key;
    for (const [i, li] of this.items) {
      li.dataset.x = this.sx(this.xy[2 * i]).toFixed(1);
      li.dataset.y = this.sy(this.xy[2 * i + 1]).toFixed(1);
    }
  }

  onListKey(e) {
    const li = e.target.closest("li");
    if (!li) return;
    const items = Array.from(this.list.children);
    const at = items.indexOf(li);
    let to = -1;
    if (e.key === "ArrowDown" || e.key === "ArrowRight") to = Math.min(items.length - 1, at + 1);
    else if (e.key === "ArrowUp" || e.key === "ArrowLeft") to = Math.max(0, at - 1);
    else if (e.key === "Home") to = 0;
    else if (e.key === "End") to = items.length - 1;
    else if (e.key === " " || e.key === "Enter") {
      e.preventDefault();
      const i = Number(li.dataset.id);
      if (this.role[i] !== 0) { this.say(`#${i} cannot be selected: it is a ${li.dataset.kind} point.`); return; }
      if (!this.d.interactive || this.d.mode === "draw") return;
      const sel = new Set(this.selection());
      if (sel.has(i)) sel.delete(i); else sel.add(i);
      this.commitSelection(sel, "key", [i]);
      return;
    }
    if (to >= 0) {
      e.preventDefault();
      li.tabIndex = -1;
      items[to].tabIndex = 0;
      items[to].focus();
    }
  }
}

// Standalone use (the HTML export): mount on an element with a payload.
function mountCanvas(root, data, hooks) {
  const view = new CanvasView(root, hooks);
  root.__view = view;
  view.update(data);
  return view;
}

const VIEWS = new WeakMap();

// Streamlit components v2 entry point: called on mount and again whenever `data` changes, with the same
// parentElement; the view (zoom, tool, frame, playback) survives those calls.
//
// The cleanup removes the view's element. Streamlit 1.67 calls it at unmount, and also right after a call whose
// module import was still pending when the data changed (a fresh page whose first run reruns at once, such as
// a shared link with a history): that call's view must go, or the next call mounts a second canvas beside it.
export default function (component) {
  const {data, parentElement, setTriggerValue} = component;
  let view = VIEWS.get(parentElement);
  if (!view) {
    for (const stale of parentElement.querySelectorAll(":scope > .ulc-root")) stale.remove();
    const root = document.createElement("div");
    parentElement.appendChild(root);
    view = new CanvasView(root, {send: ev => setTriggerValue("event", ev)});
    VIEWS.set(parentElement, view);
    root.__view = view;  // for the browser tests and the benchmark
  } else {
    view.hooks.send = ev => setTriggerValue("event", ev);
  }
  if (data) view.update(data);
  return () => {
    view.destroy();
    view.root.remove();
    if (VIEWS.get(parentElement) === view) VIEWS.delete(parentElement);
  };
}
