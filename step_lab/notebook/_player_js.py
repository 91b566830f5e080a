"""The browser side of the occupancy player (plain JavaScript, no build step).

``PLAYER_JS`` defines ``window.StepLabPlayer.start(id)`` once per page: it reads the player's
JSON payload (``<script type="application/json" id="{id}-data">``), embeds the bokeh document
(``{id}-doc``) into ``{id}-plot`` with BokehJS, and drives the document's ColumnDataSources from
``requestAnimationFrame``. A frame's unit states are computed from the compact per-unit change
events with cumulative sums (the same computation as ``player_data.decode_frame``). Every
visible part of a frame — sources, slider, readout and the root's ``data-frame`` — is updated
in one function, so the picture always equals the frame indicator.
"""

PLAYER_JS = r"""
(function () {
  if (window.StepLabPlayer && window.StepLabPlayer.version === 3) { return; }
  const COLOURS = ["#e6e6e6", "#2ca02c", "#ff9f1a", "#d62728"];
  const STATES = ["idle", "busy", "stalled on input", "stalled on output"];
  const TYPES = {int32: Int32Array, uint8: Uint8Array, int8: Int8Array, float32: Float32Array,
                 float64: Float64Array};

  function decode(a) {
    const bin = atob(a.b64), bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) { bytes[i] = bin.charCodeAt(i); }
    return new TYPES[a.dtype](bytes.buffer);
  }
  function upper(t, c, a, b) {           // first index in [a, b) with t[i] > c
    while (a < b) { const m = (a + b) >> 1; if (t[m] <= c) { a = m + 1; } else { b = m; } }
    return a;
  }
  function elide(text, chars) {
    if (chars < 2) { return ""; }
    return text.length <= chars ? text : "\u2026" + text.slice(text.length - chars + 1);
  }

  class Run {
    constructor(p) {
      Object.assign(this, p);
      for (const k of ["unit_group", "offsets", "times", "states", "fifo_capacity",
                       "fifo_offsets", "fifo_times", "fifo_levels"]) { this[k] = decode(p[k]); }
      const E = this.times.length;
      this.cum = [null, new Float64Array(E), new Float64Array(E), new Float64Array(E)];
      const U = this.units.length;
      for (let u = 0; u < U; u++) {
        for (let i = this.offsets[u] + 1; i < this.offsets[u + 1]; i++) {
          const d = this.times[i] - this.times[i - 1], s = this.states[i - 1];
          for (let k = 1; k < 4; k++) { this.cum[k][i] = this.cum[k][i - 1] + (s === k ? d : 0); }
        }
      }
      const F = this.fifo_names.length;
      this.fcum = new Float64Array(this.fifo_times.length);
      for (let q = 0; q < F; q++) {
        for (let i = this.fifo_offsets[q] + 1; i < this.fifo_offsets[q + 1]; i++) {
          this.fcum[i] = this.fcum[i - 1] +
            (this.fifo_times[i] - this.fifo_times[i - 1]) * this.fifo_levels[i - 1];
        }
      }
      this.groupUnits = this.groups.map(() => []);
      for (let u = 0; u < U; u++) { this.groupUnits[this.unit_group[u]].push(u); }
      this.shares = new Float64Array(U * 4);
    }
    at(u, c, out) {                        // cycles in busy/in/out during [0, c) -> out[1..3]
      const a = this.offsets[u], b = this.offsets[u + 1];
      out[1] = out[2] = out[3] = 0;
      const j = upper(this.times, c, a, b) - 1;
      if (j < a) { return; }
      for (let k = 1; k < 4; k++) { out[k] = this.cum[k][j]; }
      const s = this.states[j];
      if (s > 0) { out[s] += c - this.times[j]; }
    }
    frame(lo, hi) {                         // per unit shares of [lo, hi) into this.shares
      lo = Math.min(lo, this.cycles); hi = Math.min(hi, this.cycles);
      const w = hi - lo, A = [0, 0, 0, 0], B = [0, 0, 0, 0], sh = this.shares;
      for (let u = 0; u < this.units.length; u++) {
        let idle = 1;
        if (w > 0) {
          this.at(u, lo, A); this.at(u, hi, B);
          for (let k = 1; k < 4; k++) { const v = (B[k] - A[k]) / w; sh[4 * u + k] = v; idle -= v; }
        } else { sh[4 * u + 1] = sh[4 * u + 2] = sh[4 * u + 3] = 0; }
        sh[4 * u] = Math.max(idle, 0);
      }
      return w;
    }
    fifoFill(q, lo, hi) {
      lo = Math.min(lo, this.cycles); hi = Math.min(hi, this.cycles);
      if (hi <= lo) { return 0; }
      const a = this.fifo_offsets[q], b = this.fifo_offsets[q + 1];
      const integral = (c) => {
        const j = upper(this.fifo_times, c, a, b) - 1;
        return j < a ? 0 : this.fcum[j] + (c - this.fifo_times[j]) * this.fifo_levels[j];
      };
      const v = (integral(hi) - integral(lo)) / (hi - lo) / this.fifo_capacity[q];
      return Math.min(Math.max(v, 0), 1);
    }
  }

  class Player {
    constructor(id, root, data, doc, docId) {
      this.id = id; this.root = root; this.doc = doc;
      this.docId = docId;                    // the prefix of the document's model names
      this.plot = document.getElementById(id + "-plot");
      this.icons = JSON.parse(document.getElementById(id + "-icons").textContent);
      this.bounds = decode(data.boundaries); this.count = this.bounds.length - 1;
      this.runs = data.runs.map((p) => new Run(p));
      this.speeds = data.speeds; this.fps = data.fps;
      this.frameIndex = -1; this.playing = false; this.carry = 0;
      this.q = (cls) => root.querySelector("." + cls);
      this.selected = this.runs.map((r) => r.default_group);
      this.cellPx = data.unit_cell_px;
      this.gridWidth = data.unit_grid_width;
      this.listening = new AbortController();   // a player that fails to start lets go
      try {
        this.bind();
        this.runs.forEach((r, i) => this.drill(i, this.selected[i]));
        this.show(0);
      } catch (err) { this.listening.abort(); throw err; }
      root.setAttribute("data-ready", "1");
    }
    model(name) { return this.doc.get_model_by_name(this.docId + ":" + name); }
    bind() {
      const play = this.q("sp-play"), slider = this.q("sp-slider");
      const on = {signal: this.listening.signal};
      play.addEventListener("click", () => this.toggle(), on);
      this.q("sp-back").addEventListener("click", () => {
        this.pause(); this.show(this.frameIndex - 1);
      }, on);
      this.q("sp-fwd").addEventListener("click", () => {
        this.pause(); this.show(this.frameIndex + 1);
      }, on);
      slider.addEventListener("input", () => {
        this.pause(); this.show(Number(slider.value) - 1);
      }, on);
      this.root.querySelectorAll(".sp-group").forEach((sel) => {
        sel.addEventListener("change",
                             () => this.drill(Number(sel.dataset.run), Number(sel.value)), on);
      });
    }
    toggle() { if (this.playing) { this.pause(); } else { this.play(); } }
    play() {
      if (this.frameIndex >= this.count - 1) { this.show(0); }
      this.playing = true; this.carry = 0; this.last = null;
      const b = this.q("sp-play");
      b.setAttribute("aria-label", "pause"); b.innerHTML = this.icons.pause;
      this.root.setAttribute("data-playing", "1");
      const tick = (now) => {
        if (!this.playing) { return; }
        if (this.last !== null) {
          const speed = Number(this.q("sp-speed").value) || 1;
          this.carry += (now - this.last) / 1000 * this.fps * speed;
          const steps = Math.floor(this.carry);
          if (steps > 0) {
            this.carry -= steps;
            let k = this.frameIndex + steps;
            if (k >= this.count) {
              if (this.q("sp-loop").checked) { k = k % this.count; }
              else { k = this.count - 1; this.pause(); }
            }
            this.show(k);
          }
        }
        this.last = now;
        if (this.playing) { window.requestAnimationFrame(tick); }
      };
      window.requestAnimationFrame(tick);
    }
    pause() {
      this.playing = false;
      const b = this.q("sp-play");
      b.setAttribute("aria-label", "play"); b.innerHTML = this.icons.play;
      this.root.setAttribute("data-playing", "0");
    }
    drill(r, g) {
      const run = this.runs[r], src = this.model("units_" + r), fig = this.model("unit_grid_" + r);
      if (!src || g < 0 || g >= run.groups.length) { return; }
      this.selected[r] = g;
      const members = run.groupUnits[g], n = members.length;
      const cols = Math.max(1, Math.min(n, Math.floor(this.gridWidth / this.cellPx)));
      const rows = Math.ceil(n / cols);
      const chars = this.cellPx >= 56 ? Math.floor(this.cellPx / 6.2) : 0;
      const d = {x: [], y: [], name: [], op: [], label: [], fill: [], alpha: [], state: [],
                 busy: []};
      members.forEach((u, i) => {
        d.x.push(i % cols); d.y.push(-Math.floor(i / cols)); d.name.push(run.units[u]);
        d.op.push(run.ops[u]); d.label.push(elide(run.units[u], chars));
        d.fill.push(COLOURS[0]); d.alpha.push(1); d.state.push(STATES[0]); d.busy.push("0%");
      });
      // one change per model (a figure's size change re-lays out the page); at start these
      // equal what the document already holds (figure_values), so nothing changes
      src.data = d;
      fig.x_range.setv({start: -0.55, end: cols - 0.45});
      fig.y_range.setv({start: -rows + 0.4, end: 0.55});
      fig.setv({height: 40 + rows * this.cellPx, width: 30 + cols * this.cellPx});
      fig.title.text = run.label_prefix + run.groups[g] + " \u2014 " + n + " unit"
                       + (n === 1 ? "" : "s");
      const sel = this.root.querySelector(".sp-group[data-run='" + r + "']");
      if (sel && Number(sel.value) !== g) { sel.value = String(g); }
      const mark = this.model("group_mark_" + r), cells = this.model("groups_" + r);
      if (mark && cells) { mark.data = {x: [cells.data.cx[g]], y: [cells.data.cy[g]]}; }
      if (this.frameIndex >= 0) { const k = this.frameIndex; this.frameIndex = -1; this.show(k); }
    }
    show(k) {
      k = Math.min(Math.max(Math.round(k), 0), this.count - 1);
      if (k === this.frameIndex) { return; }
      this.frameIndex = k;
      const lo = this.bounds[k], hi = this.bounds[k + 1];
      this.runs.forEach((run, r) => this.drawRun(run, r, lo, hi));
      for (const name of ["cursor_bw"].concat(this.runs.map((_, r) => "cursor_heat_" + r))) {
        const span = this.model(name); if (span) { span.location = (lo + hi) / 2; }
      }
      const slider = this.q("sp-slider");
      slider.value = String(k + 1);
      const fmt = (v) => Number(v).toLocaleString("en-US");
      this.q("sp-readout").textContent = "frame " + fmt(k + 1) + " / " + fmt(this.count) +
        " \u00b7 cycles " + fmt(lo) + "\u2013" + fmt(hi) + " of " + fmt(this.bounds[this.count]);
      this.root.setAttribute("data-frame", String(k + 1));
    }
    drawRun(run, r, lo, hi) {
      run.frame(lo, hi);
      const sh = run.shares, G = run.groups.length;
      const gs = new Float64Array(G * 4);
      for (let u = 0; u < run.units.length; u++) {
        const g = run.unit_group[u];
        for (let k = 0; k < 4; k++) { gs[4 * g + k] += sh[4 * u + k]; }
      }
      const cells = this.model("groups_" + r);
      if (cells) {
        const left = [], right = [], share = [];
        const order = [1, 2, 3, 0];
        for (let g = 0; g < G; g++) {
          const n = run.groupUnits[g].length || 1;
          let x = cells.data.cx[g] - 0.42;
          for (const k of order) {
            const v = gs[4 * g + k] / n;
            left.push(x); x += 0.84 * v; right.push(x); share.push((100 * v).toFixed(0) + "%");
          }
        }
        const seg = this.model("segments_" + r);
        seg.data.left = left; seg.data.right = right; seg.data.share = share;
        seg.change.emit();
      }
      const src = this.model("units_" + r);
      if (src) {
        const members = run.groupUnits[this.selected[r]] || [];
        const d = src.data;
        members.forEach((u, i) => {
          let best = 0, bv = sh[4 * u];
          for (const k of [3, 2, 1]) {
            if (sh[4 * u + k] >= bv && sh[4 * u + k] > 0) { best = k; bv = sh[4 * u + k]; }
          }
          d.fill[i] = COLOURS[best]; d.alpha[i] = Math.round((0.35 + 0.65 * bv) * 1000) / 1000;
          d.state[i] = STATES[best]; d.busy[i] = (100 * sh[4 * u + 1]).toFixed(0) + "%";
        });
        src.change.emit();
      }
      const fifo = this.model("fifos_" + r);
      if (fifo && run.fifo_names.length) {
        const lv = fifo.data.fill_level;
        for (let q = 0; q < run.fifo_names.length; q++) { lv[q] = run.fifoFill(q, lo, hi); }
        fifo.change.emit();
      }
    }
  }

  // A knob change replaces a panel's player output with a new one naming the old one
  // (data-replaces). When the old one has left the page and its figures have the same
  // structure, the new player takes over its BokehJS document and views and applies its own
  // values as a patch (ModelChanged events, the same values its document JSON holds) instead
  // of embedding a new document: no second layout of ~140 models (~0.4 s at Qwen3 scale).
  function reusable(root) {
    const old = root.getAttribute("data-replaces"), players = window.StepLabPlayer.players;
    const donor = old ? players[old] : null;
    if (!donor || donor.adopted || donor.root.isConnected || !donor.plot) { return null; }
    if (donor.root.getAttribute("data-structure") === root.getAttribute("data-structure")) {
      return donor;
    }
    donor.pause();                        // replaced for good: let its document go
    for (const key of [old, donor.docId]) { if (players[key] === donor) { delete players[key]; } }
    return null;
  }
  function adopt(id, root, data, donor, target) {
    const patch = JSON.parse(document.getElementById(id + "-patch").textContent);
    for (const e of patch.events) { e.model.id = donor.docId + e.model.id.slice(id.length); }
    donor.doc.apply_json_patch(patch);
    const player = new Player(id, root, data, donor.doc, donor.docId);   // (may throw: then
    donor.pause(); donor.adopted = true;                                 // nothing is moved)
    while (donor.plot.firstChild) { target.appendChild(donor.plot.firstChild); }
    player.views = donor.views;
    root.setAttribute("data-reused", "1");
    const players = window.StepLabPlayer.players;
    delete players[donor.id];
    players[id] = player;
    players[donor.docId] = player;        // the group cells' tap callback names the document
  }

  window.StepLabPlayer = {
    version: 3, players: {}, Player: Player,
    start: function (id) {
      const root = document.getElementById(id);
      if (!root || root.getAttribute("data-started")) { return; }
      root.setAttribute("data-started", "1");
      const fail = (err) => {
        root.setAttribute("data-error", String(err));
        const box = root.querySelector(".sp-error");
        if (box) { box.textContent = "player error: " + err; }
      };
      const waited = Number(root.getAttribute("data-waited") || 0);
      if (!(window.Bokeh && window.Bokeh.embed) && waited < 200) {
        // a panel ships BokehJS once, in a sibling output that may render after this one
        root.removeAttribute("data-started");
        root.setAttribute("data-waited", String(waited + 1));
        setTimeout(() => window.StepLabPlayer.start(id), 50);
        return;
      }
      try {
        const data = JSON.parse(document.getElementById(id + "-data").textContent);
        const target = document.getElementById(id + "-plot");
        const donor = reusable(root);
        if (donor) {
          try { adopt(id, root, data, donor, target); return; }
          catch (err) { target.replaceChildren(); }     // embed a new document instead
        }
        const item = JSON.parse(document.getElementById(id + "-doc").textContent);
        window.Bokeh.embed.embed_item(item, target).then((views) => {
          const doc = views.roots[0].model.document;
          const player = new Player(id, root, data, doc, id);
          player.views = views;
          window.StepLabPlayer.players[id] = player;
        }).catch(fail);
      } catch (err) { fail(err); }
    },
    drill: function (id, r, indices) {
      const p = window.StepLabPlayer.players[id];
      if (p && indices.length) { p.drill(r, indices[0]); }
    }
  };
})();
"""
