// The wordgen playground page: four views over the JSON API of wordgen/serve/app.py.
// Plain JavaScript, no build step and no library; nothing is fetched from outside this server.
"use strict";

const $ = (id) => document.getElementById(id);
const state = { info: null, controllers: [], pick: { forced: [], groups: [] } };
const cardData = new WeakMap(); // token element -> what its tooltip shows

// ------------------------------------------------------------------ helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function pct(p) {
  if (p >= 0.1) return (100 * p).toFixed(1) + "%";
  if (p >= 1e-6) return (100 * p).toPrecision(2) + "%";
  return p > 0 ? (100 * p).toExponential(1) + "%" : "0";
}

// Probability -> background: red at 0.01% or less, through yellow, to pale green at 100%,
// on a log scale (a token drawn at 1% is a very different event from one at 50%).
function shade(p) {
  const x = Math.min(1, Math.max(0, (Math.log10(Math.max(p, 1e-12)) + 4) / 4));
  return `hsl(${Math.round(130 * x)} ${Math.round(85 - 40 * x)}% ${Math.round(82 + 6 * x)}%)`;
}

// Whitespace made visible inside a token: a space as a faint dot, a newline as ⏎.
function visible(text) {
  const frag = document.createDocumentFragment();
  for (const part of text.split(/( +|\n)/)) {
    if (!part) continue;
    if (part === "\n") frag.append(el("span", { class: "ws", text: "⏎" }));
    else if (/^ +$/.test(part)) frag.append(el("span", { class: "ws", text: "·".repeat(part.length) }));
    else frag.append(part);
  }
  return frag;
}

function setStatus(id, message, isError = false) {
  const node = $(id);
  node.textContent = message;
  node.classList.toggle("error", isError);
}

async function postJSON(url, body, signal) {
  const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" },
                                 body: JSON.stringify(body), signal });
  const data = await res.json().catch(() => ({ error: res.statusText }));
  if (!res.ok) throw new Error(data.error || res.statusText);
  return data;
}

// POST a request and call onEvent(name, data) for each server-sent event as it arrives.
async function streamEvents(url, body, signal, onEvent) {
  const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" },
                                 body: JSON.stringify(body), signal });
  if (!res.ok) {
    const data = await res.json().catch(() => ({ error: res.statusText }));
    throw new Error(data.error || res.statusText);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event: ")) event = line.slice(7);
        else if (line.startsWith("data: ")) data += line.slice(6);
      }
      if (data) onEvent(event, JSON.parse(data));
    }
  }
}

function checkpoints() {
  const names = [$("ckpt-a").value];
  if ($("ckpt-b").value && $("ckpt-b").value !== names[0]) names.push($("ckpt-b").value);
  return names;
}

function column(container, name) {
  const c = state.info.checkpoints.find((x) => x.name === name);
  const col = el("div", { class: "column", "data-checkpoint": name },
    el("h2", { text: name }, ...(c.init ? [el("span", { class: "init", text: `fine-tuned from ${c.init}` })] : [])),
    el("div", { class: "meta", text: `${c.tokenizer} tokenizer, ${c.vocab_size.toLocaleString()} tokens · ` +
      `${c.layers}×${c.hidden_size} LSTM, ${c.parameters.toLocaleString()} parameters · ${c.corpus}` }));
  container.append(col);
  return col;
}

function sampler() {
  const num = (id) => ($(id).value === "" ? null : Number($(id).value));
  return { greedy: $("mode-greedy").checked, temperature: num("temperature") ?? 1,
           top_k: num("top-k"), top_p: num("top-p"), seed: num("seed") ?? 0 };
}

// ------------------------------------------------------------------ the tooltip

function showTip(target) {
  const d = cardData.get(target);
  if (!d) return;
  const tip = $("tip");
  tip.replaceChildren();
  const head = d.forced
    ? `you chose ${JSON.stringify(d.token)}: the model gave it ${pct(d.p)}`
    : `drew ${JSON.stringify(d.token)}: the model gave it ${pct(d.p)}, the sampler ${pct(d.q)}`;
  tip.append(el("div", { class: "head", text: head }));
  if (d.copied) tip.append(el("div", { class: "copied-note", text:
    `part of ${d.copied.words} words in a row that the training text has: “${shorten(d.copied.text, 80)}”` }));
  const table = el("table", {}, el("tr", {}, el("th", { text: "" }), el("th", { text: "token" }),
    el("th", { text: "model" }), el("th", { text: "" }), el("th", { text: "sampler" }), el("th", { text: "" })));
  const maxP = Math.max(...d.top.map((c) => c.p), 1e-9);
  d.top.forEach((c, i) => {
    const drawn = c.id === d.id;
    const filtered = c.q === 0;
    const mark = drawn ? (d.forced ? "◀ chosen" : "◀ drawn") : filtered ? (c.unk ? "never drawn" : "filtered") : "";
    const row = el("tr", { class: "cand" + (drawn ? " drawn" : "") + (filtered ? " filtered" : "") },
      el("td", { class: "num", text: String(i + 1) }),
      el("td", { class: "t" }, visible(c.text)),
      el("td", { class: "num", text: pct(c.p) }),
      el("td", {}, el("span", { class: "bar", style: `width:${Math.max(1, 70 * c.p / maxP)}px` })),
      el("td", { class: "num", text: pct(c.q) }),
      el("td", { class: "mark", text: mark }));
    table.append(row);
  });
  if (!d.top.some((c) => c.id === d.id)) {
    table.append(el("tr", { class: "cand drawn" }, el("td", { class: "num", text: ">10" }),
      el("td", { class: "t" }, visible(d.token)), el("td", { class: "num", text: pct(d.p) }), el("td"),
      el("td", { class: "num", text: pct(d.q) }), el("td", { class: "mark", text: d.forced ? "◀ chosen" : "◀ drawn" })));
  }
  tip.append(table);
  tip.hidden = false;
  const box = target.getBoundingClientRect();
  const left = Math.min(window.scrollX + box.left, window.scrollX + document.documentElement.clientWidth - tip.offsetWidth - 8);
  tip.style.left = `${Math.max(8, left)}px`;
  tip.style.top = `${window.scrollY + box.bottom + 6}px`;
}

function hideTip() { $("tip").hidden = true; }

document.addEventListener("mouseover", (e) => { if (e.target.classList?.contains("tok")) showTip(e.target); });
document.addEventListener("mouseout", (e) => {
  if (e.target.classList?.contains("tok") && !document.querySelector(".tok.pinned")) hideTip();
});
document.addEventListener("focusin", (e) => { if (e.target.classList?.contains("tok")) showTip(e.target); });
document.addEventListener("click", (e) => { // a tap pins the candidates of a token; a tap elsewhere closes them
  document.querySelectorAll(".tok.pinned").forEach((t) => t !== e.target && t.classList.remove("pinned"));
  if (e.target.classList?.contains("tok")) { e.target.classList.toggle("pinned"); showTip(e.target); }
  else if (!e.target.closest("#tip")) hideTip();
});

// ------------------------------------------------------------------ generate

function tokenSpan(d) {
  const span = el("span", { class: "tok" + (d.forced ? " forced" : ""), tabindex: "0", text: d.text });
  span.style.background = shade(d.p);
  cardData.set(span, d);
  return span;
}

function markLoop(textNode, loop) {
  let offset = 0; // characters of the continuation before each token
  for (const span of textNode.querySelectorAll(".tok")) {
    const end = offset + span.textContent.length;
    if (end > loop.start && offset < loop.end) span.classList.add("loop");
    offset = end;
  }
}

// A stretch of text on one line, cut in the middle to `max` characters (as copying.shorten does).
function shorten(text, max) {
  const flat = text.split("\n").map((l) => l.trim()).filter(Boolean).join(" / ");
  if (flat.length <= max) return flat;
  const room = Math.max(0, max - 3); // " … " takes three
  let head = flat.slice(0, Math.ceil(room / 2)), tail = flat.slice(flat.length - Math.floor(room / 2));
  if (head.trim().includes(" ")) head = head.slice(0, head.lastIndexOf(" ")); // whole words only
  if (tail.trim().includes(" ")) tail = tail.slice(tail.indexOf(" ") + 1);
  return `${head.trimEnd()} … ${tail.trimStart()}`;
}

// The stretches a sample shares with the training text (analysis/copying.py): each token in one is
// underlined and its card says which stretch; a note under the sample gives the longest.
function markCopies(sample, copies) {
  if (copies.unavailable) {
    sample.box.append(el("div", { class: "note", text: copies.unavailable }));
    return;
  }
  let offset = 0;
  for (const span of sample.text.querySelectorAll(".tok")) {
    const end = offset + span.textContent.length;
    const covering = copies.stretches.filter((c) => end > c.start && offset < c.end);
    if (covering.length) {
      span.classList.add("copied");
      cardData.get(span).copied = covering.reduce((a, b) => (b.words > a.words ? b : a));
    }
    offset = end;
  }
  const longest = copies.longest;
  const text = longest
    ? `longest stretch copied from the training text: ${longest.words} word${longest.words === 1 ? "" : "s"} ` +
      `(“${shorten(longest.text, 60)}”)`
    : "no word of it is in the training text";
  sample.box.append(el("div", { class: "note copied" + (copies.stretches.length ? " long" : ""),
                                title: state.info.copies.explain, text }));
}

// Stream one checkpoint's samples into `col`; resolves when the stream ends.
async function runStream(col, body, signal, statusId) {
  const samples = {};
  await streamEvents("/api/generate", body, signal, (event, d) => {
    if (event === "sample") {
      const text = el("div", { class: "text" }, el("span", { class: "prompt", text: d.prompt }));
      const box = el("div", { class: "sample" }, el("h3", { text: `sample ${d.sample + 1} · seed ${d.seed}` }), text);
      col.append(box);
      samples[d.sample] = { box, text };
    } else if (event === "token") {
      samples[d.sample].text.append(tokenSpan(d));
    } else if (event === "end") {
      const s = samples[d.sample];
      if (d.loop) {
        markLoop(s.text, d.loop);
        s.box.append(el("div", { class: "note loop", text:
          `⟳ loop: “${d.loop.ngram}” repeats ${d.loop.repeats} times (textstats.find_text_loop)` }));
      }
      if (d.copies) markCopies(s, d.copies);
    } else if (event === "error") {
      setStatus(statusId, d.error, true);
    }
  });
}

async function generate() {
  stopAll();
  const out = $("gen-out");
  out.replaceChildren();
  hideTip();
  const body = { ...sampler(), prompt: $("prompt").value, max_tokens: Number($("max-tokens").value),
                 num_samples: Number($("num-samples").value) };
  const controller = new AbortController();
  state.controllers.push(controller);
  $("generate").disabled = true; $("stop").disabled = false;
  setStatus("gen-status", "generating…");
  const started = performance.now();
  try {
    // Side by side: the same prompt, sampler and seed in every column, at the same time.
    await Promise.all(checkpoints().map((name) =>
      runStream(column(out, name), { ...body, checkpoint: name }, controller.signal, "gen-status")));
    if (!$("gen-status").classList.contains("error"))
      setStatus("gen-status", `done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    if (err.name === "AbortError") setStatus("gen-status", "stopped");
    else setStatus("gen-status", err.message, true);
  } finally {
    $("generate").disabled = false; $("stop").disabled = true;
  }
}

function stopAll() {
  for (const c of state.controllers) c.abort(); // the server sees the disconnect and stops generating
  state.controllers = [];
}

// ------------------------------------------------------------------ pick the next word

async function pickRefresh() {
  const name = $("ckpt-a").value;
  const body = { ...sampler(), checkpoint: name, prompt: $("pick-prompt").value, forced: state.pick.forced,
                 top: Number($("pick-top").value) || 10 };
  setStatus("pick-status", "");
  try {
    const d = await postJSON("/api/next", body);
    const text = $("pick-text");
    text.replaceChildren(el("span", { class: "prompt", text: body.prompt }),
                         el("strong", { text: d.context.slice(body.prompt.length) }));
    const list = $("pick-candidates");
    list.replaceChildren();
    const maxP = Math.max(...d.candidates.map((c) => c.p), 1e-9);
    for (const c of d.candidates) {
      const cls = (c.q === 0 ? "filtered" : "") + (c.id === d.sampler_choice ? " choice" : "");
      const button = el("button", { class: cls.trim(), "data-id": String(c.id),
                                    title: `model ${pct(c.p)} · sampler ${pct(c.q)}` + (c.unk ? " · <unk>" : "") },
        el("span", { class: "t" }, visible(c.text)),
        el("span", { class: "p", text: `${pct(c.p)}` + (c.id === d.sampler_choice ? " · sampler's pick" : "") }),
        el("span", { class: "bar", style: `width:${Math.max(2, 80 * c.p / maxP)}px` }));
      button.addEventListener("click", () => pickAdd([c.id]));
      list.append(el("li", {}, button));
    }
  } catch (err) {
    setStatus("pick-status", err.message, true);
  }
}

function pickAdd(ids) {
  state.pick.forced.push(...ids);
  state.pick.groups.push(ids.length);
  pickRefresh();
}

async function pickOwn() {
  const words = $("pick-own").value;
  if (!words) return;
  try {
    const d = await postJSON("/api/tokenize", { checkpoint: $("ckpt-a").value, text: words });
    if (d.num_unk) setStatus("pick-status", `“${words}” has ${d.num_unk} word(s) the model does not know: <unk>`, true);
    $("pick-own").value = "";
    if (d.tokens.length) pickAdd(d.tokens.map((t) => t.id));
  } catch (err) {
    setStatus("pick-status", err.message, true);
  }
}

async function pickContinue() {
  stopAll();
  const out = $("pick-out");
  out.replaceChildren();
  const controller = new AbortController();
  state.controllers.push(controller);
  const name = $("ckpt-a").value;
  const body = { ...sampler(), checkpoint: name, prompt: $("pick-prompt").value, forced: state.pick.forced,
                 max_tokens: Number($("max-tokens").value), num_samples: 1 };
  try {
    await runStream(column(out, name), body, controller.signal, "pick-status");
  } catch (err) {
    if (err.name !== "AbortError") setStatus("pick-status", err.message, true);
  }
}

// ------------------------------------------------------------------ tokenization and scoring

async function tokenize() {
  const out = $("tok-out");
  out.replaceChildren();
  setStatus("tok-status", "");
  try {
    for (const name of checkpoints()) {
      const d = await postJSON("/api/tokenize", { checkpoint: name, text: $("tok-text").value });
      const col = column(out, name);
      col.append(el("div", { class: "stats", text: `${d.num_tokens} tokens · ${d.num_chars} characters · ` +
        `${d.tokens_per_char.toFixed(3)} tokens per character · ${d.num_unk} <unk>` }));
      const chips = el("div", { class: "chips" + ($("tok-ids").checked ? "" : " noids") });
      d.tokens.forEach((t, i) => {
        const hides = t.hides ? `“${t.hides}” ` : "";
        const chip = el("span", { class: `chip c${i % 5}` + (t.unk ? " unk" : ""),
                                  title: `id ${t.id}` + (t.unk ? ` (${hides}is not in the vocabulary: <unk>)` : "") },
          el("sub", { text: String(t.id) }), visible(t.text));
        if (t.hides) chip.append(el("small", { class: "hides", text: t.hides }));
        chips.append(chip);
      });
      col.append(chips);
    }
  } catch (err) {
    setStatus("tok-status", err.message, true);
  }
}

async function score() {
  const out = $("score-out");
  out.replaceChildren();
  setStatus("score-status", "scoring…");
  try {
    for (const name of checkpoints()) {
      const d = await postJSON("/api/score", { checkpoint: name, text: $("score-text").value });
      const m = d.metrics;
      const col = column(out, name);
      const row = (label, value) => el("tr", {}, el("td", { text: label }), el("td", { class: "num", text: value }));
      col.append(el("table", { class: "metrics" },
        row("bits per character", m.bits_per_char.toFixed(3)),
        row("perplexity per word", m.ppl_word.toFixed(1)),
        row("perplexity per token", m.ppl_token.toFixed(1)),
        row("tokens / characters / words", `${m.num_tokens} / ${m.num_chars} / ${m.num_words}`),
        row("<unk> rate", pct(m.unk_rate))));
      if (m.num_unk) col.append(el("div", { class: "warn", text:
        "Unknown words share one <unk> token, whose probability covers all of them: the figures are optimistic." }));
      const text = el("div", { class: "text" });
      for (const t of d.tokens) {
        const p = Math.pow(2, -t.bits);
        const span = el("span", { class: "tok heat" + (t.unk ? " unk" : ""), text: t.text,
                                  title: `${t.bits.toFixed(2)} bits (p = ${pct(p)})` + (t.unk ? " · <unk>" : "") });
        span.style.background = shade(p);
        text.append(span);
      }
      col.append(text);
    }
    setStatus("score-status", "");
  } catch (err) {
    setStatus("score-status", err.message, true);
  }
}

// ------------------------------------------------------------------ wiring

function showView(view) {
  for (const tab of document.querySelectorAll(".tabs button"))
    tab.setAttribute("aria-selected", String(tab.dataset.view === view));
  for (const section of document.querySelectorAll(".view")) section.hidden = section.id !== `view-${view}`;
  hideTip();
}

async function init() {
  state.info = await (await fetch("/api/info")).json();
  for (const c of state.info.checkpoints) {
    $("ckpt-a").append(el("option", { value: c.name, text: c.name }));
    $("ckpt-b").append(el("option", { value: c.name, text: c.name }));
  }
  if (state.info.checkpoints.length > 1) $("ckpt-b").value = state.info.checkpoints[1].name;
  const limits = state.info.limits;
  $("max-tokens").max = limits.max_tokens;
  $("num-samples").max = limits.max_samples;
  $("pick-top").max = limits.max_top;

  for (const tab of document.querySelectorAll(".tabs button")) tab.addEventListener("click", () => showView(tab.dataset.view));
  $("generate").addEventListener("click", generate);
  $("stop").addEventListener("click", stopAll);
  $("prompt").addEventListener("keydown", (e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) generate(); });
  $("temperature-range").addEventListener("input", () => { $("temperature").value = $("temperature-range").value; });
  $("temperature").addEventListener("input", () => { $("temperature-range").value = $("temperature").value; });
  $("pick-start").addEventListener("click", () => { state.pick = { forced: [], groups: [] }; pickRefresh(); });
  $("pick-undo").addEventListener("click", () => {
    const n = state.pick.groups.pop();
    if (n) { state.pick.forced.splice(-n, n); pickRefresh(); }
  });
  $("pick-add").addEventListener("click", pickOwn);
  $("pick-own").addEventListener("keydown", (e) => { if (e.key === "Enter") pickOwn(); });
  $("pick-continue").addEventListener("click", pickContinue);
  $("tokenize-run").addEventListener("click", tokenize);
  $("tok-ids").addEventListener("change", () =>
    document.querySelectorAll(".chips").forEach((c) => c.classList.toggle("noids", !$("tok-ids").checked)));
  $("score-run").addEventListener("click", score);
}

init().catch((err) => setStatus("gen-status", `cannot reach the server: ${err.message}`, true));
