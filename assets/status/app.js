"use strict";
// The status page: one snapshot a second from status/events (server-sent events), drawn with
// DOM calls only (every value is set as text, never parsed as markup). Falls back to polling status/snapshot.
(function () {
  const state = { updates: 0, firstHeight: null, errors: [] };
  const $ = (id) => document.getElementById(id);
  const body = document.body;

  function noteError(message) {
    state.errors.push(String(message));
    body.dataset.errors = state.errors.join(" | ");
  }
  window.addEventListener("error", (event) => noteError(event.message));
  window.addEventListener("unhandledrejection", (event) => noteError(event.reason));

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    return node;
  }
  const words = (key) => key.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  const slug = (key) => key.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();
  const short = (hex) => (typeof hex === "string" && hex.length > 14 ? hex.slice(0, 8) + "…" + hex.slice(-4) : String(hex ?? "–"));
  const grouped = (n) => (n == null ? "–" : Number(n).toLocaleString("en-US"));
  function tokens(wei) {
    try {
      const whole = BigInt(wei) / 10n ** 18n;
      return whole.toLocaleString("en-US");
    } catch (error) {
      return String(wei);
    }
  }
  function age(seconds, now) {
    if (seconds == null) return "–";
    const delta = Math.max(0, Math.round(now / 1000 - seconds));
    return delta < 60 ? delta + " s" : delta < 3600 ? Math.round(delta / 60) + " min" : Math.round(delta / 3600) + " h";
  }
  function set(id, text) {
    const node = $(id);
    if (node && node.textContent !== String(text)) node.textContent = String(text);
  }
  function fill(tbody, rows) {
    tbody.replaceChildren(...rows);
  }

  function drawChain(chain, now) {
    set("chain-height", grouped(chain.height));
    set("chain-block-time", chain.blockTimeMs == null ? "–" : (chain.blockTimeMs / 1000).toFixed(2) + " s");
    set("chain-pending", grouped(chain.pending));
    set("chain-queued", grouped(chain.queued));
    set("chain-id", chain.chainId ?? "–");
    set("chain-sync", chain.syncing === false ? "in sync" : chain.syncing && chain.syncing.error ? "unknown" : "syncing");
    const rows = (chain.blocks || []).map((block) => {
      const share = block.gasLimit ? Math.min(100, (100 * block.gasUsed) / block.gasLimit) : 0;
      const fillBar = el("span");
      fillBar.style.width = share.toFixed(2) + "%"; // CSSOM, which the page's CSP allows (a style attribute it refuses)
      const bar = el("div", { class: "bar", title: share.toFixed(2) + " % of " + grouped(block.gasLimit) }, fillBar);
      return el("tr", {}, el("td", {}, grouped(block.number)), el("td", {}, block.number === 0 ? "genesis" : age(block.timestamp, now)), el("td", {}, block.transactions),
        el("td", {}, grouped(block.gasUsed)), el("td", {}, bar), el("td", { class: "mono", title: block.coinbase || "" }, short(block.coinbase)));
    });
    fill(document.querySelector("#blocks tbody"), rows);
  }

  // The set in effect; the member whose key is this node's own is marked.
  function drawValidators(validators, ownKey) {
    $("validators").hidden = !validators;
    if (!validators) return;
    const rows = validators.members.map((member) => {
      const own = ownKey != null && member.key === ownKey;
      return el("tr", own ? { class: "own" } : {}, el("td", { class: "mono", title: member.operator }, short(member.operator) + (own ? " (this node)" : "")),
        el("td", {}, tokens(member.stake)), el("td", {}, (member.powerBps / 100).toFixed(2) + " %"));
    });
    fill(document.querySelector("#validator-set tbody"), rows);
  }

  function drawNetwork(network) {
    $("network").hidden = !network;
    if (!network) return;
    const figures = [["this node", short(network.ownKey)], ["validators", network.members], ["connected", network.connected], ["highest peer block", grouped(network.highestPeerHeight)]];
    $("network-figures").replaceChildren(...figures.map(([label, value]) => el("div", {}, el("dt", {}, label), el("dd", {}, value))));
    const rows = (network.peers || []).map((peer) =>
      el("tr", {}, el("td", { class: "mono", title: peer.key }, short(peer.key)), el("td", { class: "mono" }, peer.address || "–"),
        el("td", {}, peer.latencyMs == null ? "–" : peer.latencyMs.toFixed(1) + " ms"),
        el("td", { class: peer.banned ? "bad" : peer.connected ? "ok" : "" }, peer.banned ? "banned" : peer.connected ? "connected" : "not connected")));
    fill(document.querySelector("#peers tbody"), rows);
  }

  // A role's section: figures for plain values, then a titled group of figures for each object
  // (e.g. da.sampling), then a table for each list of objects; each value's element id is
  // role-key or role-group-key (e.g. da-blobs, da-sampling-rounds).
  function shown(value) {
    if (typeof value === "number") return grouped(value);
    if (typeof value === "string" && value.startsWith("0x") && value.length > 14) return short(value);
    return value ?? "–";
  }
  function figure(id, label, value) {
    const title = typeof value === "string" && value.startsWith("0x") ? { title: value } : {};
    return el("div", {}, el("dt", {}, label), el("dd", { id, ...title }, shown(value)));
  }
  function drawRole(name, section) {
    let card = $("role-" + name);
    if (!card) {
      card = el("section", { id: "role-" + name, class: "card" }, el("h2", {}, words(name)));
      $("roles").append(card);
    }
    const figures = el("dl", { class: "figures" });
    const groups = [];
    const tables = [];
    for (const [key, value] of Object.entries(section || {})) {
      if (Array.isArray(value)) {
        if (value.length === 0) {
          figures.append(figure(name + "-" + slug(key), words(key), "none"));
          continue;
        }
        // The RPC's objects come with sorted keys: identity first, details last.
        const order = ["txSeq", "block", "root", "status", "bytes", "finalized", "epoch", "quorum", "detail"];
        const rank = (c) => (order.includes(c) ? order.indexOf(c) : order.length);
        const columns = Object.keys(value[0]).sort((a, b) => rank(a) - rank(b));
        const head = el("tr", {}, ...columns.map((c) => el("th", {}, words(c))));
        const rows = value.map((item) => el("tr", {}, ...columns.map((c) => el("td", {}, shown(item[c])))));
        tables.push(el("h3", {}, words(key)), el("div", { class: "scroll" }, el("table", { id: name + "-" + slug(key) }, el("thead", {}, head), el("tbody", {}, ...rows))));
      } else if (value && typeof value === "object") {
        if (Object.keys(value).length === 0) {
          figures.append(figure(name + "-" + slug(key), words(key), "none"));
          continue;
        }
        const inner = Object.entries(value).map(([k, v]) => figure(name + "-" + slug(key) + "-" + slug(k), words(k), v));
        groups.push(el("h3", {}, words(key)), el("dl", { class: "figures" }, ...inner));
      } else {
        figures.append(figure(name + "-" + slug(key), words(key), value));
      }
    }
    card.replaceChildren(card.firstChild, figures, ...groups, ...tables);
  }

  function draw(snapshot) {
    const now = snapshot.at || Date.now();
    drawChain(snapshot.chain || {}, now);
    drawValidators(snapshot.validators, snapshot.network ? snapshot.network.ownKey : null);
    drawNetwork(snapshot.network);
    for (const [name, section] of Object.entries(snapshot.roles || {})) drawRole(name, section);
    set("gpu-line", snapshot.gpu ? snapshot.gpu.line : "not started");
    state.updates += 1;
    if (state.firstHeight == null && snapshot.chain && snapshot.chain.height != null) state.firstHeight = snapshot.chain.height;
    body.dataset.updates = state.updates;
    body.dataset.firstHeight = state.firstHeight ?? "";
    body.dataset.height = snapshot.chain ? snapshot.chain.height ?? "" : "";
    const live = $("live");
    live.className = "live ok";
    live.textContent = "live · " + new Date(now).toLocaleTimeString();
  }

  function offline() {
    const live = $("live");
    live.className = "live bad";
    live.textContent = "reconnecting…";
  }

  function poll() {
    fetch("status/snapshot", { cache: "no-store" })
      .then((response) => (response.ok ? response.json() : Promise.reject(new Error("HTTP " + response.status))))
      .then(draw, offline)
      .finally(() => setTimeout(poll, 2000));
  }

  if (typeof EventSource === "function") {
    const source = new EventSource("status/events");
    source.addEventListener("snapshot", (event) => draw(JSON.parse(event.data)));
    source.addEventListener("error", offline);
  } else {
    poll();
  }
})();
