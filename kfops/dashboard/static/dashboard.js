// kfops dashboard: fetches the JSON under api/ and draws it. No dependency, no network asset:
// elements are built with textContent (no HTML from data), charts are small inline SVGs.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const ROLLOUT_POLL_MS = 1000;
  const SERVING_POLL_MS = 5000;
  const VERDICT_COLOUR = {
    Successful: "#1b7f3b", Failed: "#b3261e", Error: "#a15c00", Inconclusive: "#0b6f80",
  };
  const state = { settings: null, selected: null, actionsFor: null, busy: false };

  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  async function getJSON(path, options) {
    let response;
    try {
      response = await fetch(path, { headers: { accept: "application/json" }, ...options });
    } catch (error) {
      return { ok: false, body: { error: "the dashboard server does not answer: is `kfops dashboard` still running?" } };
    }
    let body;
    try {
      body = await response.json();
    } catch (error) {
      body = { error: `${path}: HTTP ${response.status}` };
    }
    if (!response.ok && !body.error) body.error = `${path}: HTTP ${response.status}`;
    return { ok: response.ok, status: response.status, body };
  }

  function say(id, text, isError) {
    const node = $(id);
    node.textContent = text || "";
    node.classList.toggle("error", Boolean(isError));
  }

  const fixed = (value, digits) => (value === null || value === undefined ? "—" : Number(value).toFixed(digits));
  const seconds = (value) => (value === null || value === undefined ? "" : `${Number(value).toFixed(1)} s`);
  const clock = (epoch) => new Date(epoch * 1000).toLocaleTimeString();

  function table(headers, rows, numeric) {
    const head = el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h }))));
    const body = el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((cell, i) =>
      el("td", { class: numeric && numeric.includes(i) ? "num" : null }, cell)))));
    return el("div", { class: "scroll" }, el("table", {}, head, body));
  }

  // -- runs ------------------------------------------------------------------------------

  async function loadRuns() {
    const { ok, body } = await getJSON("api/runs");
    const target = $("runs-body");
    target.replaceChildren();
    if (!ok) return say("runs-message", body.error, true);
    say("runs-message", body.message || (body.source === "local" ? "" : `runs on KFP at ${body.source}`));
    if (!body.runs.length) return;
    target.append(table(["started", "status", "took", "steps"], body.runs.map((run) => [
      el("div", {}, run.started.replace("T", " "), run.name ? el("div", { class: "legend", text: run.name }) : null),
      el("span", { class: `state-${run.status}`, text: run.status }),
      seconds(run.seconds),
      el("div", {},
        el("ol", { class: "steps", "aria-label": `steps of run ${run.id}` }, run.steps.map((step) =>
          el("li", { class: `state-${step.status}` },
            `${step.name} ${step.status}${step.seconds !== null && step.seconds !== undefined ? ` ${seconds(step.seconds)}` : ""}`,
            step.error ? el("div", { class: "message error", text: step.error }) : null))),
        run.error && !run.steps.some((s) => s.error) ? el("div", { class: "message error", text: run.error }) : null),
    ]), [2]));
  }

  // -- models ----------------------------------------------------------------------------

  function aliasBadges(aliases) {
    return aliases.map((alias) => el("span", { class: `badge ${alias}`, text: alias }));
  }

  async function loadModels() {
    const { ok, body } = await getJSON("api/models");
    const target = $("models-body");
    target.replaceChildren();
    if (!ok) return say("models-message", body.error, true);
    say("models-message", body.message);
    const aliases = Object.entries(body.aliases || {}).sort();
    target.append(el("p", { class: "facts" },
      el("span", {}, "model ", el("strong", { text: body.model })),
      aliases.map(([alias, version]) => el("span", {}, el("span", { class: `badge ${alias}`, text: alias }), ` → v${version}`))));
    if (!body.versions.length) return;
    target.append(table(["version", "aliases", "gate", "metrics", "dataset", "plots and statistics"],
      body.versions.map((v) => {
        const metric = v.gate.metric;
        return [
          el("strong", { text: `v${v.version}` }),
          el("span", {}, aliasBadges(v.aliases)),
          el("div", {},
            el("span", { class: `decision-${v.gate.decision || "none"}`, text: v.gate.decision || "no decision recorded" }),
            v.gate.reason ? el("div", { class: "message", text: v.gate.reason }) : null),
          el("div", {}, Object.entries(v.metrics).filter(([name]) => !name.startsWith("champion_")).map(([name, value]) =>
            el("div", { class: name === metric ? "mono strong" : "mono" }, `${name}${name === metric ? " *" : ""} ${fixed(value, 4)}`))),
          el("div", {},
            v.dataset.source ? el("div", { class: "mono wrap", title: "dataset source" }, v.dataset.source) : null,
            v.dataset.digest ? el("div", { class: "mono", title: v.dataset.digest }, `digest ${v.dataset.digest.slice(0, 16)}…`) : null,
            v.dataset.rows ? el("div", {}, `${v.dataset.rows} rows`) : null),
          el("ul", {}, v.artifacts.map((path) => el("li", {},
            el("a", { href: `artifacts/${encodeURIComponent(v.run_id)}/${path.split("/").map(encodeURIComponent).join("/")}`, target: "_blank", rel: "noopener" },
              path.split("/").pop())))),
        ];
      })));
  }

  // -- rollouts --------------------------------------------------------------------------

  function selectedFromHash() {
    const match = /rollout=([^&]+)/.exec(window.location.hash);
    return match ? decodeURIComponent(match[1]) : null;
  }

  async function loadRolloutList() {
    const { ok, body } = await getJSON("api/rollouts");
    const list = $("rollout-list");
    if (!ok) return say("rollouts-message", body.error, true);
    say("rollouts-message", body.message);
    const names = body.rollouts.map((r) => r.name);
    if (!state.selected) state.selected = selectedFromHash() || names[0] || null;
    const buttons = body.rollouts.map((r) => el("button", {
      type: "button", "aria-pressed": String(r.name === state.selected),
      "aria-label": `Show rollout ${r.name}: ${r.phase}, candidate weight ${r.weight}%`,
      onclick: () => select(r.name),
    }, `${r.name} `, el("span", { class: `phase-${r.phase}`, text: r.phase })));
    const focused = document.activeElement && list.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
    list.replaceChildren(...buttons);
    if (focused) {
      const again = buttons.find((b) => b.getAttribute("aria-label").split(":")[0] === focused.split(":")[0]);
      if (again) again.focus();
    }
  }

  function select(name) {
    state.selected = name;
    window.history.replaceState(null, "", `#rollout=${encodeURIComponent(name)}`);
    loadRolloutList();
    loadRollout();
  }

  function timeline(rollout) {
    // Candidate weight over time (a step line), and below it each analysis measurement as a
    // dot coloured by its verdict, as `kfops rollout timeline` draws them.
    const W = 640, H = 190, left = 36, right = 12, top = 10, plot = 110, band = 150;
    const times = [...rollout.history.map((p) => p.time), ...rollout.measurements.map((m) => m.time)];
    if (!times.length) return el("p", { class: "message", text: "no traffic change or measurement yet" });
    const start = Math.min(...times);
    const end = Math.max(Math.max(...times), start + 1);
    const x = (t) => left + ((t - start) / (end - start)) * (W - left - right);
    const y = (w) => top + plot - (w / 100) * plot;
    let d = "";
    rollout.history.forEach((p, i) => {
      d += i === 0 ? `M${x(p.time)},${y(p.candidate_weight)}` : `H${x(p.time)}V${y(p.candidate_weight)}`;
    });
    if (rollout.history.length) d += `H${x(end)}`;
    const grid = [0, 50, 100].map((w) => [
      svg("line", { x1: left, x2: W - right, y1: y(w), y2: y(w), stroke: "#d5d9e2" }),
      svg("text", { x: 4, y: y(w) + 4 }, `${w}%`),
    ]);
    const dots = rollout.measurements.map((m) => svg("circle", {
      cx: x(m.time), cy: band, r: 5, fill: VERDICT_COLOUR[m.phase] || "#5b6475",
    }, svg("title", {}, `${clock(m.time)} ${m.metric}: ${m.phase} ${m.value === null ? "" : JSON.stringify(m.value)} ${m.message}`)));
    const verdicts = {};
    rollout.measurements.forEach((m) => { verdicts[m.phase] = (verdicts[m.phase] || 0) + 1; });
    const summary = Object.entries(verdicts).map(([k, v]) => `${v} ${k}`).join(", ") || "no measurement";
    const label = `Timeline of ${rollout.name}: candidate weight now ${rollout.weight}%; measurements: ${summary}`;
    return el("figure", {},
      svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label },
        grid, svg("path", { d, fill: "none", stroke: "#1f5fbf", "stroke-width": 2 }),
        svg("text", { x: left, y: band - 12 }, "analysis measurements"), dots,
        svg("text", { x: left, y: H - 4 }, clock(start)),
        svg("text", { x: W - right, y: H - 4, "text-anchor": "end" }, clock(end))),
      el("figcaption", { class: "legend" }, "candidate weight (line); measurements: ",
        Object.keys(VERDICT_COLOUR).map((k) => el("span", {}, el("span", { class: `dot-${k}`, "aria-hidden": "true" }, "● "), `${k} `))));
  }

  function rolloutStatus(r) {
    const experiment = r.experiment;
    return [
      el("h3", {}, `${r.name}: `, el("span", { class: `phase-${r.phase}`, text: r.phase + (r.aborted ? " (aborted)" : "") })),
      el("div", { class: "facts" },
        el("div", {}, "model ", el("strong", { text: r.model })),
        el("div", {}, `stable v${r.stable} → candidate v${r.candidate}`),
        el("div", {}, `step ${Math.min(r.step + 1, r.steps.length)}/${r.steps.length}`),
        el("div", { id: "weight" }, `candidate weight ${r.weight}%`),
        r.mirror ? el("div", {}, `mirror ${r.mirror}%`) : null,
        r.gate ? el("div", {}, `gate decision: ${r.gate}${r.gate_forced ? " (started with --force)" : ""}`) : null),
      r.message ? el("p", { class: "message", text: r.message }) : null,
      r.paused.map((p) => el("p", { class: "phase-Paused" }, `paused: ${p.reason} ${p.message}`)),
      el("ol", { class: "steps", start: "0", "aria-label": `steps of ${r.name}` }, r.steps.map((s) =>
        el("li", { class: `state-${s.state}` }, `${s.text} `, el("span", { class: "legend", text: `(${s.state})` })))),
      timeline(r),
      r.analysis.length ? table(["analysis run", "phase", "metric", "✔", "✖", "?", "⚠"], r.analysis.flatMap((run) =>
        run.metrics.map((m) => [run.name, el("span", { class: `phase-${run.phase}`, text: run.phase }), m.name,
          m.successful, m.failed, m.inconclusive, m.error])), [3, 4, 5, 6]) : null,
      experiment ? el("p", {}, el("strong", { text: "A/B verdict: " }),
        `${experiment.decision}${experiment.winner ? `, winner ${experiment.winner}` : ""} (${experiment.test}, p=${fixed(experiment.pValue, 4)}, alpha ${experiment.alpha}) ${experiment.message || ""}`) : null,
    ];
  }

  function actionButtons(name) {
    if (!state.settings.allow_actions) {
      return [el("p", { class: "message", text: "read-only: start `kfops dashboard --allow-actions` to steer rollouts from here" })];
    }
    const button = (command, label, extra, danger) => el("button", {
      type: "button", class: danger ? "danger" : null, "data-command": command,
      "aria-label": `${label} rollout ${name}`, onclick: () => send(name, command, extra ? extra() : {}),
    }, label);
    const weight = el("input", { id: "set-weight-value", type: "number", min: "0", max: "100", step: "1", value: "0", "aria-label": "candidate weight in percent" });
    return [el("div", { class: "actions", role: "group", "aria-label": `Commands for ${name}` },
      button("promote", "Promote"),
      button("promote", "Promote fully", () => ({ full: true })),
      button("pause", "Pause"),
      button("resume", "Resume"),
      button("abort", "Abort", null, true),
      button("retry", "Retry"),
      button("undo", "Undo", null, true),
      el("label", { for: "set-weight-value" }, "weight "), weight,
      button("set-weight", "Set weight", () => ({ weight: Number.parseInt(weight.value, 10) })))];
  }

  async function send(name, command, body) {
    if (state.busy) return;
    state.busy = true;
    say("action-result", `${command} ${name}…`);
    const { ok, body: answer } = await getJSON(`api/rollouts/${encodeURIComponent(name)}/${command}`, {
      method: "POST", headers: { accept: "application/json", "content-type": "application/json", "x-kfops-action": "1" },
      body: JSON.stringify(body || {}),
    });
    state.busy = false;
    if (!ok) return say("action-result", `${command} ${name}: ${answer.error}`, true);
    say("action-result", `${command} ${name}: done, phase ${answer.phase}`);
    drawRollout(answer);
  }

  function drawRollout(r) {
    $("rollout-status").replaceChildren(...rolloutStatus(r).flat(Infinity).filter(Boolean));
    if (state.actionsFor !== r.name) {
      $("rollout-actions").replaceChildren(...actionButtons(r.name));
      state.actionsFor = r.name;
    }
  }

  async function loadRollout() {
    if (!state.selected) {
      $("rollout-status").replaceChildren();
      $("rollout-actions").replaceChildren();
      state.actionsFor = null;
      return;
    }
    const { ok, body } = await getJSON(`api/rollouts/${encodeURIComponent(state.selected)}`);
    if (!ok) {
      $("rollout-status").replaceChildren(el("p", { class: "message error", role: "alert", text: body.error }));
      $("rollout-actions").replaceChildren();
      state.actionsFor = null;
      return;
    }
    drawRollout(body);
  }

  // -- drift -----------------------------------------------------------------------------

  function driftChart(name, points) {
    // One feature: each report's distance (dot, red above its threshold) and the threshold
    // (dashed), left to right in report order.
    const W = 300, H = 120, left = 40, right = 8, top = 8, bottom = 20;
    const highest = Math.max(...points.flatMap((p) => [p.distance || 0, p.threshold || 0]), 1e-9);
    const x = (i) => left + (points.length === 1 ? (W - left - right) / 2 : (i / (points.length - 1)) * (W - left - right));
    const y = (v) => top + (H - top - bottom) * (1 - v / highest);
    const threshold = points.length === 1
      ? `M${left},${y(points[0].threshold || 0)}H${W - right}`
      : points.map((p, i) => `${i ? "L" : "M"}${x(i)},${y(p.threshold || 0)}`).join("");
    const drifted = points.filter((p) => p.drifted).length;
    const last = points[points.length - 1];
    const label = `${name}: ${points.length} reports, ${drifted} above threshold; last distance ${fixed(last.distance, 3)} against ${fixed(last.threshold, 3)}`;
    return el("figure", {},
      el("figcaption", { text: name }),
      svg("svg", { class: "chart", viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label },
        svg("line", { x1: left, x2: W - right, y1: y(0), y2: y(0), stroke: "#d5d9e2" }),
        svg("text", { x: 2, y: y(highest) + 8 }, fixed(highest, 2)),
        svg("text", { x: 2, y: y(0) }, "0"),
        svg("path", { d: threshold, fill: "none", stroke: "#a15c00", "stroke-dasharray": "4 3" }),
        points.map((p, i) => svg("circle", { cx: x(i), cy: y(p.distance || 0), r: 4, fill: p.drifted ? "#b3261e" : "#1b7f3b" },
          svg("title", {}, `${p.time} ${p.comparison}: ${fixed(p.distance, 4)} (threshold ${fixed(p.threshold, 4)})`)))),
      el("div", { class: "legend", text: `last: ${fixed(last.distance, 3)} vs ${fixed(last.threshold, 3)} (dashed)` }));
  }

  async function loadDrift() {
    const { ok, body } = await getJSON("api/drift");
    const target = $("drift-body");
    target.replaceChildren();
    if (!ok) return say("drift-message", body.error, true);
    say("drift-message", body.message || `${body.reports.length} reports`);
    for (const [name, points] of Object.entries(body.features)) target.append(driftChart(name, points));
  }

  // -- serving ---------------------------------------------------------------------------

  async function loadServing() {
    const { ok, body } = await getJSON("api/serving");
    const target = $("serving-body");
    if (!ok) { target.replaceChildren(); return say("serving-message", body.error, true); }
    say("serving-message", body.message, Boolean(body.message && body.address));
    const rows = Object.entries(body.variants).map(([variant, f]) => [
      variant, f.rate === null ? "—" : `${fixed(f.rate, 2)}/s`,
      f.p90_seconds === null ? "—" : `${fixed(f.p90_seconds * 1000, 1)} ms`,
      f.error_ratio === null ? "—" : `${fixed(f.error_ratio * 100, 2)} %`,
    ]);
    target.replaceChildren(...(rows.length ? [table(["variant", "requests", "p90 latency", "errors"], rows, [1, 2, 3])] : []));
  }

  // -- start -----------------------------------------------------------------------------

  async function start() {
    const { ok, body } = await getJSON("api/settings");
    if (!ok) return say("rollouts-message", body.error, true);
    state.settings = body;
    $("project").textContent = body.project;
    $("mode").textContent = `${body.cluster ? "cluster" : "local"} · ${body.allow_actions ? "steering enabled" : "read-only"}`;
    window.addEventListener("hashchange", () => { const name = selectedFromHash(); if (name) select(name); });
    await Promise.all([loadRolloutList().then(loadRollout), loadModels(), loadRuns(), loadDrift(), loadServing()]);
    document.body.dataset.loaded = "true";
    performance.mark("kfops-dashboard-loaded"); // every section drawn: the browser test reads it
    window.setInterval(() => { loadRolloutList(); loadRollout(); }, ROLLOUT_POLL_MS);
    window.setInterval(loadServing, SERVING_POLL_MS);
  }

  document.addEventListener("DOMContentLoaded", start);
})();
