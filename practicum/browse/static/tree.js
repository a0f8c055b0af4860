// The episode's search tree, loaded one level at a time from /api/episodes/<id>/tree?parent=<idx>.
// Every piece of store text goes into the page through textContent, never as HTML.
"use strict";

(() => {
  const container = document.getElementById("tree");
  if (!container) {
    return;
  }
  const episode = container.dataset.episode;
  const allowEdits = container.dataset.allowEdits === "yes";
  const csrf = container.dataset.csrf || "";
  const detail = document.getElementById("node-detail");

  function make(tag, attributes = {}, text = null) {
    const element = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) {
      element.setAttribute(name, String(value));
    }
    if (text !== null) {
      element.textContent = String(text);
    }
    return element;
  }

  function fmt(value) {
    if (value === null || value === undefined) {
      return "–";
    }
    if (typeof value === "number") {
      return Number.isInteger(value) ? String(value) : value.toFixed(3);
    }
    return String(value);
  }

  async function getJson(url) {
    const response = await fetch(url, { headers: { accept: "application/json" }, credentials: "same-origin" });
    const data = await response.json();
    if (!response.ok) {
      throw new Error(data.error || response.statusText);
    }
    return data;
  }

  function levelUrl(parent) {
    const base = `/api/episodes/${encodeURIComponent(episode)}/tree`;
    return parent === null ? base : `${base}?parent=${encodeURIComponent(parent)}`;
  }

  function badge(text, kind) {
    return make("span", { class: `badge ${kind}` }, text);
  }

  function renderNode(node) {
    const item = make("li", { class: "node", id: `tree-node-${node.idx}`, "data-idx": node.idx, role: "treeitem" });
    if (node.on_path) item.classList.add("on-path");
    for (const mark of node.marks) item.classList.add(`pair-${mark.role}`);
    const row = make("div", { class: "row" });
    let toggle = null;
    if (node.children > 0) {
      toggle = make("button", { type: "button", class: "toggle", "aria-label": `expand node ${node.idx}` }, "▸");
      item.setAttribute("aria-expanded", "false");
      row.append(toggle);
    } else {
      row.append(make("span", { class: "leaf", "aria-hidden": "true" }, "·"));
    }
    const label = node.parent_idx === null ? "(start)" : node.action === null ? "(no action)" : node.action;
    const action = make("button", { type: "button", class: "action", title: "show this node's full text" }, label);
    action.addEventListener("click", () => showDetail(node.idx));
    row.append(action);
    row.append(
      make(
        "span",
        { class: "stats" },
        `#${node.idx} · N ${fmt(node.visits)} · Q ${fmt(node.value)} · Q̂ ${fmt(node.blended_value)} · ` +
          `critic ${fmt(node.critic_score)} · prior ${fmt(node.prior)}`,
      ),
    );
    for (const mark of node.marks) {
      row.append(badge(`${mark.role} · pair ${mark.pair_id}`, `pair-${mark.role}`));
    }
    if (node.pairs_here > 0) row.append(badge(`${node.pairs_here} pair(s) mined below`, "pair-parent"));
    if (node.on_path) row.append(badge("committed", "on-path"));
    if (node.invalid) row.append(badge("invalid", "failure"));
    if (node.success) row.append(badge("success", "success"));
    else if (node.is_terminal) row.append(badge("terminal", "muted"));
    if (node.edited) row.append(badge("edited", "edited"));
    item.append(row);
    const children = make("ul", { class: "children", role: "group" });
    children.hidden = true;
    item.append(children);
    if (toggle !== null) {
      toggle.addEventListener("click", () => expand(item, node.idx, toggle, children));
    }
    return item;
  }

  async function expand(item, idx, toggle, children) {
    if (item.dataset.loaded !== "yes") {
      toggle.disabled = true;
      try {
        const data = await getJson(levelUrl(idx));
        for (const child of data.nodes) children.append(renderNode(child));
        item.dataset.loaded = "yes";
      } catch (error) {
        children.append(make("li", { class: "error-message" }, `could not load the children: ${error.message}`));
      } finally {
        toggle.disabled = false;
      }
    }
    const open = item.getAttribute("aria-expanded") !== "true";
    item.setAttribute("aria-expanded", String(open));
    children.hidden = !open;
    toggle.textContent = open ? "▾" : "▸";
    toggle.setAttribute("aria-label", `${open ? "collapse" : "expand"} node ${idx}`);
  }

  function textBlock(title, text) {
    const block = make("details", { class: "text", open: "" });
    block.append(make("summary", {}, title));
    block.append(text === null || text === undefined ? make("p", { class: "muted" }, "none") : make("pre", {}, text));
    return block;
  }

  // A text that may be long: inline when short, else a closed block whose summary is a one-line preview.
  function longText(title, text, limit = 160) {
    if (text.length <= limit && !text.includes("\n")) {
      const line = make("p", { class: "rationale" });
      line.append(make("strong", {}, `${title}: `), text);
      return line;
    }
    const block = make("details", { class: "rationale collapsed-text" });
    const summary = make("summary", {});
    summary.append(
      make("strong", {}, title),
      " ",
      make("span", { class: "muted" }, `(${text.length.toLocaleString("en")} chars)`),
      " ",
      make("span", { class: "preview" }, `${text.slice(0, limit).replaceAll("\n", " ")}…`),
    );
    block.append(summary, make("pre", {}, text));
    return block;
  }

  function criticForm(node) {
    const form = make("form", { class: "edit", method: "post", action: "/edits/critic" });
    const hidden = { csrf_token: csrf, episode_id: episode, node_idx: node.idx };
    for (const [name, value] of Object.entries(hidden)) {
      form.append(make("input", { type: "hidden", name, value }));
    }
    const score = make("label", {}, "critic score ");
    score.append(make("input", { name: "score", type: "number", min: 0, max: 1, step: "any", required: "", value: node.critic_score ?? "" }));
    const reason = make("label", {}, "why ");
    reason.append(make("input", { name: "reason", type: "text", required: "", maxlength: 2000 }));
    form.append(score, reason, make("button", { type: "submit" }, "relabel score"));
    return form;
  }

  async function showDetail(idx) {
    detail.hidden = false;
    detail.replaceChildren(make("p", { class: "muted" }, `loading node ${idx}…`));
    try {
      const { node } = await getJson(`/api/episodes/${encodeURIComponent(episode)}/nodes/${encodeURIComponent(idx)}`);
      const facts = make("dl", { class: "facts" });
      const fields = [
        ["action", node.action], ["depth", node.depth], ["visits", node.visits], ["Q", node.value],
        ["Q̂", node.blended_value], ["critic score", node.critic_score], ["prior", node.prior],
        ["log-prob", node.prior_logprob], ["reward", node.reward], ["error", node.error],
      ];
      for (const [name, value] of fields) {
        facts.append(make("dt", {}, name), make("dd", {}, fmt(value)));
      }
      const parts = [make("h3", {}, `node ${node.idx}`), facts];
      if (node.critic_rationale) parts.push(longText("critic rationale", node.critic_rationale));
      parts.push(textBlock("what the model saw (prompt)", node.prompt));
      parts.push(textBlock("observation", node.observation));
      if (node.pairs.length > 0) {
        const list = make("ul", { class: "pairs" });
        for (const pair of node.pairs) {
          const text =
            pair.role === "chosen"
              ? `pair ${pair.id}: chosen over "${pair.rejected}"`
              : `pair ${pair.id}: rejected in favour of "${pair.chosen}"`;
          list.append(make("li", {}, `${text} (margin ${fmt(pair.margin)})`));
        }
        parts.push(make("h4", {}, "in pairs"), list);
      }
      if (allowEdits && node.parent_idx !== null) parts.push(criticForm(node));
      detail.replaceChildren(...parts);
    } catch (error) {
      detail.replaceChildren(make("p", { class: "error-message" }, `could not load node ${idx}: ${error.message}`));
    }
  }

  async function start() {
    try {
      const data = await getJson(levelUrl(null));
      const list = make("ul", { class: "tree-root", role: "tree" });
      const items = data.nodes.map(renderNode);
      list.append(...items);
      container.replaceChildren(list);
      // Open the start node's first level so the tree is not a single line.
      if (items.length === 1) {
        const toggle = items[0].querySelector(":scope > .row > .toggle");
        if (toggle !== null) {
          await expand(items[0], data.nodes[0].idx, toggle, items[0].querySelector(":scope > ul"));
        }
      }
      container.dataset.ready = "yes";
    } catch (error) {
      container.replaceChildren(make("p", { class: "error-message" }, `could not load the tree: ${error.message}`));
    }
  }

  start();
})();
