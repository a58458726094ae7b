// slant review page: analyse a text, see each actor's stance and evidence and the article's bias
// (leaning, hyperpartisan, loaded-language sentences), correct them in one click, and work through
// the queue of stored texts the model is least sure about.
// Plain DOM, no dependencies; every piece of text from the user or the API is set as
// textContent or a text node, never parsed as HTML, so nothing in an article can inject markup.
"use strict";

(() => {
  const LABELS = ["against", "neutral", "favor"];
  const HYPER = ["hyperpartisan", "not_hyperpartisan"];
  const KEY_STORAGE = "slant.apiKey";
  const $ = (id) => document.getElementById(id);

  /** The last analysis: the exact text sent, the model that answered, its actor results and bias. */
  let analysed = null;

  // -- talking to the API ------------------------------------------------------------------------

  class ApiError extends Error {
    constructor(status, detail) {
      super(detail.message || "request failed");
      this.status = status;
      this.detail = detail;
    }
  }

  /** Call the API (paths are relative, so the page works behind a path prefix too). */
  async function api(method, path, body) {
    const headers = { Accept: "application/json" };
    const key = $("api-key").value.trim();
    if (key) headers["X-API-Key"] = key;
    const init = { method, headers };
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (exc) {
      throw new ApiError(0, {
        code: "network",
        message: "cannot reach the slant server",
        fix: "check that the server is running and reachable, then retry",
      });
    }
    let payload = null;
    try {
      payload = await response.json();
    } catch (exc) {
      payload = null;
    }
    if (!response.ok) {
      const detail = payload && payload.error ? payload.error : {
        code: `http_${response.status}`,
        message: `the server answered ${response.status} ${response.statusText}`.trim(),
        fix: null,
      };
      throw new ApiError(response.status, detail);
    }
    return payload;
  }

  function showError(exc) {
    const detail = exc instanceof ApiError ? exc.detail : { message: String(exc), fix: null };
    const where = detail.field ? ` (${detail.field})` : "";
    $("error-message").textContent = `${detail.message}${where}`;
    $("error-fix").textContent = detail.fix || "";
    $("error").hidden = false;
    if (exc instanceof ApiError && exc.status === 401) $("api-key").focus();
  }

  function clearError() {
    $("error").hidden = true;
  }

  // -- offsets and highlighting ------------------------------------------------------------------

  /**
   * The API's offsets count Unicode code points (Python); JavaScript strings index UTF-16 units.
   * Returns a function from a code-point offset to a UTF-16 index (the identity for BMP-only text).
   */
  function offsetMapper(text) {
    if (!/[\uD800-\uDFFF]/.test(text)) return (i) => i;
    const units = [0];
    let unit = 0;
    for (const ch of text) {
      unit += ch.length;
      units.push(unit);
    }
    return (i) => units[Math.max(0, Math.min(i, units.length - 1))];
  }

  /**
   * Render ``text`` into ``container`` with every span in a <mark>. Spans are stance evidence
   * (``kind: "evidence"``, coloured by label) or loaded-language sentences (``kind: "loaded"``,
   * a wavy underline). Spans may overlap (two actors, two sentences of one, evidence that is also
   * loaded): the text is cut at every span boundary and each piece is marked with all the spans
   * that cover it.
   */
  function renderHighlighted(container, text, spans) {
    container.replaceChildren();
    const cuts = new Set([0, text.length]);
    for (const s of spans) {
      cuts.add(s.start);
      cuts.add(s.end);
    }
    const points = [...cuts].sort((a, b) => a - b);
    for (let i = 0; i + 1 < points.length; i++) {
      const a = points[i];
      const b = points[i + 1];
      const piece = text.slice(a, b);
      const covering = spans.filter((s) => s.start <= a && s.end >= b);
      if (!covering.length) {
        container.append(document.createTextNode(piece));
        continue;
      }
      const mark = document.createElement("mark");
      const evidence = covering.filter((s) => s.kind !== "loaded");
      const loaded = covering.filter((s) => s.kind === "loaded");
      if (evidence.length) {
        const labels = new Set(evidence.map((s) => s.label));
        mark.className = labels.size === 1 ? [...labels][0] : "mixed";
        if (evidence.length > 1) mark.classList.add("overlap");
      }
      if (loaded.length) {
        mark.classList.add("loaded");
        if (!evidence.length) mark.classList.add("bare");
        mark.dataset.loaded = loaded.map((s) => s.id).join(" ");
      }
      mark.dataset.actors = [...new Set(evidence.map((s) => s.actor))].join(" ");
      mark.dataset.evidence = evidence.map((s) => s.id).join(" ");
      mark.title = [
        ...evidence.map((s) => `${s.name}: ${s.label}`),
        ...loaded.map((s) => `loaded language: ${pct(s.probability)}`),
      ].join("\n");
      mark.textContent = piece;
      container.append(mark);
    }
  }

  function focusActor(index, on) {
    const article = $("article");
    article.classList.toggle("focusing", on);
    for (const mark of article.querySelectorAll("mark")) {
      const actors = mark.dataset.actors.split(" ");
      mark.classList.toggle("focus", on && actors.includes(String(index)));
    }
    const card = document.querySelector(`.card[data-actor="${index}"]`);
    if (card) card.classList.toggle("focus", on);
  }

  // -- analysing ---------------------------------------------------------------------------------

  function parseActors(raw) {
    const names = raw.split(",").map((s) => s.trim()).filter(Boolean);
    return names.length ? names : null;
  }

  async function analyse(event) {
    if (event) event.preventDefault();
    clearError();
    const text = $("text").value;
    const actors = parseActors($("actors").value);
    if (!text.trim()) {
      showError(new ApiError(0, { message: "the text is empty", fix: "paste an article or pick one from the queue" }));
      return;
    }
    const button = $("analyse");
    button.disabled = true;
    $("analyse-status").textContent = "analysing…";
    const started = performance.now();
    try {
      const body = { text };
      if (actors) body.actors = actors;
      const data = await api("POST", "v1/analyze", body);
      const item = data.items[0];
      analysed = { text, model: data.model, version: data.version, actors: item.stance, bias: item.bias };
      renderResults();
      loadNotices();
      const ms = Math.round(performance.now() - started);
      $("analyse-status").textContent = `${analysed.actors.length} actor(s) · ${data.model} ${data.version} · ${ms} ms`;
    } catch (exc) {
      $("analyse-status").textContent = "";
      showError(exc);
    } finally {
      button.disabled = false;
    }
  }

  function renderResults() {
    const { text, actors } = analysed;
    const toUnits = offsetMapper(text);
    const spans = [];
    actors.forEach((r, ai) => {
      (r.evidence || []).forEach((ev, ei) => {
        spans.push({
          kind: "evidence",
          start: toUnits(ev.start),
          end: toUnits(ev.end),
          label: ev.label,
          actor: ai,
          name: r.actor,
          id: `${ai}-${ei}`,
        });
      });
    });
    const loaded = analysed.bias && analysed.bias.loaded_language;
    (loaded ? loaded.sentences : []).forEach((s, li) => {
      const span = { kind: "loaded", start: toUnits(s.start), end: toUnits(s.end), id: `l${li}` };
      spans.push({ ...span, probability: s.probability });
    });
    renderHighlighted($("article"), text, spans);
    $("article").hidden = false;
    $("article-title").hidden = false;
    $("legend-loaded").hidden = !loaded;
    renderBias(analysed.bias);

    const results = $("results");
    results.replaceChildren(...actors.map((r, ai) => actorCard(r, ai)));
    $("results-empty").hidden = actors.length > 0;
    if (!actors.length) {
      $("results-empty").hidden = false;
      $("results-empty").textContent = "No actors found in this text: name them in the Actors field.";
    }
  }

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function pct(p) {
    return p === null || p === undefined ? "–" : `${Math.round(p * 100)}%`;
  }

  function bars(probabilities, labels = LABELS) {
    const box = el("div", "bars");
    for (const label of labels) {
      const p = probabilities ? probabilities[label] : null;
      const bar = el("div", "bar");
      const fill = el("span", label);
      fill.style.width = `${Math.max(0, Math.min(1, p || 0)) * 100}%`;
      bar.append(fill);
      bar.setAttribute("role", "img");
      bar.setAttribute("aria-label", `${label} ${pct(p)}`);
      box.append(el("span", "", label), bar, el("span", "pct", pct(p)));
    }
    return box;
  }

  function actorCard(r, ai) {
    const card = el("article", "card");
    card.dataset.actor = String(ai);
    const head = el("div", "card-head");
    head.append(el("span", "name", r.actor));
    if (r.label) head.append(el("span", `badge ${r.label}`, r.label));
    else head.append(el("span", "badge none", "not mentioned"));
    const meta = [`${r.mentions} mention${r.mentions === 1 ? "" : "s"}`];
    if (r.label) meta.push(`${r.level} level`, `${r.windows} window${r.windows === 1 ? "" : "s"}`);
    head.append(el("span", "meta", meta.join(" · ")));
    card.append(head);
    if (r.probabilities) card.append(bars(r.probabilities));

    if (r.evidence && r.evidence.length) {
      const list = el("ol", "evidence");
      r.evidence.forEach((ev, ei) => {
        const item = el("li", "", ev.text);
        item.title = `${ev.label} (${pct(ev.probabilities[ev.label])})`;
        item.addEventListener("click", () => {
          const mark = document.querySelector(`#article mark[data-evidence~="${ai}-${ei}"]`);
          if (mark) mark.scrollIntoView({ block: "center", behavior: "smooth" });
        });
        list.append(item);
      });
      card.append(list);
    }

    const correct = el("div", "correct");
    correct.append(el("span", "muted", "Correct to:"));
    const buttons = LABELS.map((label) => {
      const b = el("button", label === r.label ? "predicted" : "", label);
      b.type = "button";
      b.dataset.label = label;
      b.title = label === r.label ? "Confirm the prediction" : `Store ${label} as the right label`;
      correct.append(b);
      return b;
    });
    const outcome = el("span", "outcome");
    outcome.setAttribute("role", "status");
    correct.append(outcome);
    for (const b of buttons) {
      b.addEventListener("click", () => sendCorrection(r, b.dataset.label, buttons, outcome));
    }
    card.append(correct);

    card.addEventListener("mouseenter", () => focusActor(ai, true));
    card.addEventListener("mouseleave", () => focusActor(ai, false));
    return card;
  }

  async function sendCorrection(r, label, buttons, outcome) {
    clearError();
    const body = { text: analysed.text, actor: r.actor, label, source: "correction" };
    if (r.label) {
      body.corrected_prediction = {
        label: r.label,
        probabilities: finite(r.probabilities),
        model_version: `${analysed.model} ${analysed.version}`,
      };
    }
    await storeLabel(body, buttons, outcome);
  }

  /** POST one label; show stored / duplicate / conflict (or the error) next to its buttons. */
  async function storeLabel(body, buttons, outcome) {
    for (const b of buttons) b.disabled = true;
    outcome.className = "outcome";
    outcome.textContent = "saving…";
    try {
      const data = await api("POST", "v1/labels", body);
      const item = data.items[0];
      outcome.classList.add(item.status);
      if (item.status === "stored") outcome.textContent = `stored: ${item.label}`;
      else if (item.status === "duplicate") outcome.textContent = `duplicate: ${item.label} is already the label`;
      else outcome.textContent = `conflict: ${item.label} replaces ${item.previous_label}`;
    } catch (exc) {
      outcome.classList.add("failed");
      outcome.textContent = "not saved";
      showError(exc);
    } finally {
      for (const b of buttons) b.disabled = false;
    }
  }

  // -- bias --------------------------------------------------------------------------------------

  /** One-click buttons that store ``task``'s label for the analysed text, correcting ``predicted``. */
  function biasCorrection(task, labels, predicted, probabilities) {
    const correct = el("div", "correct");
    correct.dataset.task = task;
    correct.append(el("span", "muted", "Correct to:"));
    const buttons = labels.map((label) => {
      const b = el("button", label === predicted ? "predicted" : "", label.replace("_", " "));
      b.type = "button";
      b.dataset.label = label;
      b.title = label === predicted ? "Confirm the prediction" : `Store ${label} as the right label`;
      correct.append(b);
      return b;
    });
    const outcome = el("span", "outcome");
    outcome.setAttribute("role", "status");
    correct.append(outcome);
    for (const b of buttons) {
      b.addEventListener("click", () => {
        clearError();
        const body = { text: analysed.text, task, label: b.dataset.label, source: "correction" };
        body.corrected_prediction = {
          label: predicted,
          probabilities,
          model_version: `${analysed.model} ${analysed.version}`,
        };
        storeLabel(body, buttons, outcome);
      });
    }
    return correct;
  }

  function finite(probabilities) {
    const out = {};
    for (const [k, p] of Object.entries(probabilities || {})) {
      if (typeof p === "number" && Number.isFinite(p)) out[k] = p;
    }
    return out;
  }

  function renderBias(bias) {
    const box = $("bias-body");
    box.replaceChildren();
    const parts = [];
    if (bias && bias.leaning) {
      const { label, probabilities } = bias.leaning;
      const part = el("div", "bias-part leaning");
      const head = el("div", "bias-head");
      head.append(el("span", "name", "Leaning"), el("span", `badge ${label}`, label));
      head.append(el("span", "meta", `${bias.sentences} sentence${bias.sentences === 1 ? "" : "s"} read`));
      part.append(head, bars(probabilities, Object.keys(probabilities)));
      part.append(biasCorrection("leaning", Object.keys(probabilities), label, finite(probabilities)));
      parts.push(part);
    }
    if (bias && typeof bias.hyperpartisan === "number") {
      const p = bias.hyperpartisan;
      const label = p >= 0.5 ? HYPER[0] : HYPER[1];
      const part = el("div", "bias-part hyper");
      const head = el("div", "bias-head");
      head.append(el("span", "name", "Hyperpartisan"), el("span", `badge ${label}`, label.replace("_", " ")));
      const meter = el("div", "bars");
      const bar = el("div", "bar");
      const fill = el("span", "score");
      fill.style.width = `${Math.max(0, Math.min(1, p)) * 100}%`;
      bar.append(fill);
      bar.setAttribute("role", "img");
      bar.setAttribute("aria-label", `hyperpartisan ${pct(p)}`);
      meter.append(el("span", "", "score"), bar, el("span", "pct", pct(p)));
      part.append(head, meter);
      part.append(biasCorrection("hyperpartisan", HYPER, label, { hyperpartisan: p, not_hyperpartisan: 1 - p }));
      parts.push(part);
    }
    const loaded = bias && bias.loaded_language;
    if (loaded) {
      const part = el("div", "bias-part loaded-language");
      const head = el("div", "bias-head");
      head.append(el("span", "name", "Loaded language"));
      head.append(
        el(
          "span",
          "meta",
          `${loaded.sentences.length} of ${loaded.scored} sentence${loaded.scored === 1 ? "" : "s"} ` +
            `at or above ${pct(loaded.threshold)}`,
        ),
      );
      part.append(head);
      if (loaded.sentences.length) {
        const list = el("ol", "loaded-list");
        loaded.sentences.forEach((s, li) => {
          const item = el("li");
          item.append(el("span", "pct", pct(s.probability)), document.createTextNode(s.text));
          item.title = "Show it in the text";
          item.addEventListener("click", () => {
            const mark = document.querySelector(`#article mark[data-loaded~="l${li}"]`);
            if (mark) mark.scrollIntoView({ block: "center", behavior: "smooth" });
          });
          list.append(item);
        });
        part.append(list);
      }
      parts.push(part);
    }
    box.append(...parts);
    $("bias").hidden = parts.length === 0;
  }

  /** Licence notices of what the server loaded (e.g. an AGPL head), from GET /v1/models. */
  async function loadNotices() {
    let data;
    try {
      data = await api("GET", "v1/models");
    } catch (exc) {
      return; // no key yet, or not ready: the next analysis tries again
    }
    const footer = $("notices");
    footer.replaceChildren(
      ...(data.notices || []).map((n) => {
        const p = el("p", "", n.message);
        if (n.source && /^https?:\/\//.test(n.source)) {
          const a = el("a", "", n.source);
          a.href = n.source;
          p.append(" ", a);
        }
        return p;
      }),
    );
    footer.hidden = footer.childElementCount === 0;
  }

  // -- the queue ---------------------------------------------------------------------------------

  let queueItems = [];

  async function loadQueue(event) {
    if (event) event.preventDefault();
    clearError();
    const limit = $("queue-limit").value || "20";
    const candidates = $("queue-candidates").value || "200";
    const button = $("queue-load");
    button.disabled = true;
    $("queue-status").textContent = "scoring…";
    try {
      const query = new URLSearchParams({ limit, candidates });
      const data = await api("GET", `v1/review/queue?${query}`);
      queueItems = data.items;
      renderQueue();
      $("queue-status").textContent = data.items.length
        ? `${data.items.length} of ${data.pairs} pair(s) in ${data.candidates} text(s) · ` +
          `${data.predicted_texts} predicted now, the rest cached · ${data.model} ${data.version}`
        : data.candidates
          ? `nothing to review: no actor of the ${data.candidates} newest text(s) could be scored`
          : "the queue is empty: store or import some labels first";
    } catch (exc) {
      $("queue-status").textContent = "";
      showError(exc);
    } finally {
      button.disabled = false;
    }
  }

  function renderQueue() {
    const body = $("queue-body");
    body.replaceChildren(
      ...queueItems.map((item, i) => {
        const row = el("tr");
        row.tabIndex = 0;
        row.dataset.index = String(i);
        row.title = "Load into the analyser";

        const unc = el("div", "unc");
        const bar = el("div", "bar");
        const fill = el("span");
        fill.style.width = `${item.uncertainty * 100}%`;
        bar.append(fill);
        unc.append(bar, el("span", "", item.uncertainty.toFixed(3)));
        const uncCell = el("td");
        uncCell.append(unc);

        const actorCell = el("td", "", item.actor);
        if (item.discovered) actorCell.append(el("div", "muted", "discovered"));

        const predCell = el("td");
        predCell.append(el("span", `badge ${item.label}`, item.label));
        predCell.append(el("div", "muted", LABELS.map((l) => `${l[0]} ${pct(item.probabilities[l])}`).join(" · ")));

        const labelCell = el("td");
        if (item.current_label) labelCell.append(el("span", `badge ${item.current_label}`, item.current_label));
        else labelCell.append(el("span", "muted", "—"));
        labelCell.append(el("div", "muted", `${item.labels} label${item.labels === 1 ? "" : "s"} on text`));

        const textCell = el("td", "snippet", item.snippet);
        row.append(uncCell, actorCell, predCell, labelCell, textCell);
        return row;
      }),
    );
    $("queue-table").hidden = queueItems.length === 0;
  }

  function pickQueueItem(target) {
    const row = target.closest("tr[data-index]");
    if (!row) return;
    const item = queueItems[Number(row.dataset.index)];
    $("text").value = item.text;
    $("actors").value = item.actor;
    $("text").scrollIntoView({ block: "start", behavior: "smooth" });
    analyse();
  }

  // -- model status and start-up -----------------------------------------------------------------

  async function checkModel() {
    const status = $("model-status");
    try {
      const data = await api("GET", "readyz");
      status.textContent = `${data.model} ${data.version} · ready`;
      status.className = "model-status ready";
      loadNotices();
    } catch (exc) {
      status.textContent = exc.status === 503 ? "model loading…" : "server unreachable";
      status.className = "model-status down";
      window.setTimeout(checkModel, 3000);
    }
  }

  function start() {
    const key = $("api-key");
    key.value = window.sessionStorage.getItem(KEY_STORAGE) || "";
    key.addEventListener("input", () => {
      const value = key.value.trim();
      if (value) window.sessionStorage.setItem(KEY_STORAGE, value);
      else window.sessionStorage.removeItem(KEY_STORAGE);
    });
    $("analyse-form").addEventListener("submit", analyse);
    $("queue-form").addEventListener("submit", loadQueue);
    $("error-close").addEventListener("click", clearError);
    $("queue-body").addEventListener("click", (e) => pickQueueItem(e.target));
    $("queue-body").addEventListener("keydown", (e) => {
      if (e.key === "Enter" || e.key === " ") {
        e.preventDefault();
        pickQueueItem(e.target);
      }
    });
    checkModel();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
