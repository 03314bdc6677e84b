// The search page's script: plain JavaScript, no library, no request beyond this app's own API.
// In Azure the page is opened with ?code=<function key>; every API call and thumbnail carries it on.
"use strict";
(() => {
  const key = new URLSearchParams(location.search).get("code");
  const apiBase = location.pathname.replace(/\/search\/?$/, "/");
  const $ = (id) => document.getElementById(id);
  let status = null;       // the last GET index answer
  let current = null;      // what the last search was by: { file } or { id, name }

  function apiUrl(path, params = {}) {
    const url = new URL(apiBase + path, location.origin);
    for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") url.searchParams.set(k, v);
    if (key) url.searchParams.set("code", key);
    return url.pathname + url.search;
  }

  const thumbnailUrl = (name, size = 160) => apiUrl("thumbnails", { name, size });

  async function call(path, params, init) {
    let response;
    try {
      response = await fetch(apiUrl(path, params), init);
    } catch (e) {
      throw new Error("The service could not be reached (" + e.message + ")");
    }
    const type = response.headers.get("Content-Type") || "";
    const body = type.includes("json") ? await response.json() : null;
    if (!response.ok) {
      const reason = body && body.title ? body.title + ": " + body.detail : response.status + " " + response.statusText;
      throw new Error(reason);
    }
    return body;
  }

  function el(tag, attributes = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attributes)) {
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const child of children) node.append(child);
    return node;
  }

  function facts(dl, rows) {
    dl.replaceChildren(...rows.flatMap(([term, value]) => [el("dt", { text: term }), el("dd", { text: String(value) })]));
  }

  function say(target, text, isError = false) {
    target.textContent = text;
    target.classList.toggle("error", isError);
  }

  // ---- Search view ----

  function fillControls() {
    const bits = $("bits");
    const lengths = status && status.codeLengths ? status.codeLengths : [];
    const chosen = bits.value;
    bits.replaceChildren(...lengths.map((b) => el("option", { value: String(b), text: b + " bits (" + b / 8 + " bytes)" })));
    if (lengths.length) bits.value = lengths.includes(Number(chosen)) ? chosen : String(lengths[lengths.length - 1]);
    const classes = $("classes");
    const ticked = new Set([...classes.querySelectorAll("input:checked")].map((c) => c.value));
    const boxes = (status && status.classes ? status.classes : []).map((name, i) => {
      const box = el("input", { type: "checkbox", id: "class-" + i, value: name });
      box.checked = ticked.has(name);
      return el("label", { for: "class-" + i }, box, " " + name);
    });
    classes.replaceChildren(el("legend", { text: "Only these classes (none ticked: all)" }), ...boxes);
    classes.hidden = boxes.length === 0;
  }

  function settings() {
    const labels = [...$("classes").querySelectorAll("input:checked")].map((c) => c.value);
    return { k: Number($("k").value) || 12, bits: Number($("bits").value) || null, labels };
  }

  async function search() {
    if (!current) {
      say($("search-status"), "Choose or drop an image first.", true);
      return;
    }
    const { k, bits, labels } = settings();
    say($("search-status"), "Searching…");
    $("search-button").disabled = true;
    try {
      const answer = current.file
        ? await call("query", { k, bits, labels: labels.join(",") }, {
            method: "POST", body: current.file, headers: { "Content-Type": current.file.type || "application/octet-stream" } })
        : await call("query", {}, {
            method: "POST", headers: { "Content-Type": "application/json" },
            body: JSON.stringify(Object.assign({ id: current.id, k }, bits ? { bits } : {}, labels.length ? { labels } : {})) });
      showAnswer(answer);
    } catch (e) {
      say($("search-status"), "The search failed. " + e.message, true);
    } finally {
      $("search-button").disabled = false;
    }
  }

  function showQuery() {
    const image = $("query-image");
    if (current.file) {
      image.src = URL.createObjectURL(current.file);
      image.alt = "The query image, " + current.file.name;
      $("query-caption").textContent = "Query: " + current.file.name;
    } else {
      image.src = thumbnailUrl(current.name, 320);
      image.alt = "The query image, " + current.name + ", from the index";
      $("query-caption").textContent = "Query: " + current.name;
    }
    $("query-panel").hidden = false;
  }

  function showAnswer(answer) {
    const t = answer.timingsMs;
    const copies = answer.results.filter((r) => r.match === "near-duplicate").length;
    facts($("timings"), [
      ["Model version", answer.modelVersion],
      ["Code length", answer.bits + " bits"],
      ["Images searched", answer.indexedItems.toLocaleString("en")],
      ["Time in all", t.total.toFixed(1) + " ms"],
      ["Model lookup", t.model.toFixed(1) + " ms"],
      ["Index lookup", t.index.toFixed(1) + " ms"],
      ["Encode", t.encode.toFixed(1) + " ms"],
      ["Scan", t.scan.toFixed(1) + " ms"],
      ["Copy scan", t.copyScan.toFixed(1) + " ms"],
    ]);
    $("results").replaceChildren(...answer.results.map((hit, i) => {
      const copy = hit.match === "near-duplicate";
      const label = hit.label || "no class";
      const button = el("button", { type: "button", class: copy ? "hit copy" : "hit", "data-id": hit.id, "data-name": hit.blobName },
        el("img", { src: thumbnailUrl(hit.blobName), alt: "Result " + (i + 1) + ": " + label + ", " + hit.blobName, loading: "lazy", width: "160", height: "160" }),
        el("span", { class: "meta" },
          el("span", { class: "rank", text: "#" + (i + 1) + " " }),
          copy ? el("span", { class: "badge", text: "copy" }) : "",
          el("br"), "score " + hit.score.toFixed(3),
          el("br"), el("span", { class: "label", text: label }),
          el("br"), el("span", { class: "name", text: hit.blobName }),
          el("span", { class: "visually-hidden", text: " — search by this image" })));
      button.addEventListener("click", () => { current = { id: hit.id, name: hit.blobName }; showQuery(); search(); });
      return el("li", {}, button);
    }));
    say($("search-status"), answer.results.length + " results in " + t.total.toFixed(1) + " ms"
      + (copies ? ", " + copies + (copies === 1 ? " copy" : " copies") + " of the query first" : "")
      + ". Select a result to search by it.");
  }

  function useFile(file) {
    if (!file) return;
    current = { file };
    showQuery();
    search();
  }

  $("file").addEventListener("change", (e) => useFile(e.target.files[0]));
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("dragging"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (e) => { e.preventDefault(); zone.classList.remove("dragging"); useFile(e.dataTransfer.files[0]); });
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); search(); });

  // ---- Index view ----

  function stateClass(state) {
    return "state-" + String(state).split(/[ :]/)[0];
  }

  function mapText(map) {
    return Object.keys(map || {}).map(Number).sort((a, b) => a - b).map((b) => b + ": " + map[b].toFixed(3)).join(" · ") || "not evaluated";
  }

  const palette = ["#0a58a8", "#b3261e", "#1e7a34", "#7b3fa0", "#8a5a00", "#005f73"];
  const svgNs = "http://www.w3.org/2000/svg";
  function svg(tag, attributes, text) {
    const node = document.createElementNS(svgNs, tag);
    for (const [k, v] of Object.entries(attributes)) node.setAttribute(k, String(v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function plot(versions) {
    const series = versions.filter((v) => v.heldOutMap && Object.keys(v.heldOutMap).length > 0);
    const target = $("map-plot");
    if (series.length === 0) {
      target.replaceChildren(el("p", { text: "No version has held-out figures yet." }));
      return;
    }
    const xs = [...new Set(series.flatMap((v) => Object.keys(v.heldOutMap).map(Number)))].sort((a, b) => a - b);
    const ys = series.flatMap((v) => Object.values(v.heldOutMap));
    const yMin = Math.max(0, Math.floor((Math.min(...ys) - 0.05) * 10) / 10), yMax = 1;
    const W = 600, H = 320, left = 56, right = 170, top = 16, bottom = 44;
    const x = (b) => left + (xs.length === 1 ? 0.5 : (xs.indexOf(b) / (xs.length - 1))) * (W - left - right);
    const y = (m) => top + (1 - (m - yMin) / (yMax - yMin)) * (H - top - bottom);
    const root = svg("svg", { viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
      "aria-label": "Held-out mAP by code length: " + series.map((v) => v.version + " " + mapText(v.heldOutMap)).join("; ") });
    for (let m = yMin; m <= yMax + 1e-9; m += 0.1) {
      root.append(svg("line", { x1: left, x2: W - right, y1: y(m), y2: y(m), stroke: "#d5d8e0" }));
      root.append(svg("text", { x: left - 8, y: y(m) + 4, "text-anchor": "end" }, m.toFixed(1)));
    }
    for (const b of xs) root.append(svg("text", { x: x(b), y: H - bottom + 18, "text-anchor": "middle" }, String(b)));
    root.append(svg("text", { x: (left + W - right) / 2, y: H - 6, "text-anchor": "middle" }, "code length (bits)"));
    root.append(svg("text", { x: 14, y: (top + H - bottom) / 2, "text-anchor": "middle", transform: `rotate(-90 14 ${(top + H - bottom) / 2})` }, "mAP"));
    series.forEach((v, i) => {
      const colour = palette[i % palette.length];
      const points = xs.filter((b) => v.heldOutMap[b] !== undefined).map((b) => [x(b), y(v.heldOutMap[b]), b]);
      root.append(svg("polyline", { points: points.map((p) => p[0] + "," + p[1]).join(" "), fill: "none", stroke: colour, "stroke-width": 2.5 }));
      for (const [px, py, b] of points) {
        const dot = svg("circle", { cx: px, cy: py, r: 4, fill: colour });
        dot.append(svg("title", {}, `${v.version}, ${b} bits: mAP ${v.heldOutMap[b].toFixed(3)}`));
        root.append(dot);
      }
      root.append(svg("line", { x1: W - right + 14, x2: W - right + 34, y1: top + 12 + i * 20, y2: top + 12 + i * 20, stroke: colour, "stroke-width": 3 }));
      root.append(svg("text", { x: W - right + 40, y: top + 16 + i * 20 }, v.version.length > 18 ? v.version.slice(0, 17) + "…" : v.version));
    });
    target.replaceChildren(root);
  }

  async function loadIndex() {
    say($("index-status"), "Loading…");
    try {
      const [s, f] = await Promise.all([call("index"), call("failures", { top: 20 }).catch((e) => ({ error: e.message }))]);
      status = s;
      showHeader();
      fillControls();
      facts($("index-summary"), [
        ["Serving", s.modelVersion || "no model yet"],
        ["Runtime", s.runtime || "–"],
        ["Images indexed", (s.indexedItems || 0).toLocaleString("en")],
        ["Shards", s.shards || 0],
        ["Segments held", s.segments || 0],
        ["Code lengths", (s.codeLengths || []).join(", ") + " bits"],
        ["Classes", (s.classes || []).join(", ") || "–"],
      ].concat(s.modelError ? [["Not loaded", s.modelError.modelVersion + ": " + s.modelError.reason]] : []));
      const versions = s.versions || [];
      $("versions").tBodies[0].replaceChildren(...versions.map((v) => el("tr", {},
        el("td", { text: v.version }), el("td", { class: stateClass(v.status), text: v.status }),
        el("td", { class: "num", text: v.images.toLocaleString("en") }), el("td", { text: mapText(v.heldOutMap) }))));
      plot(versions);
      const shardItems = s.shardItems || [];
      const most = Math.max(1, ...shardItems);
      $("shards").tBodies[0].replaceChildren(...shardItems.map((n, i) => {
        const bar = el("span", { class: "bar" });
        bar.style.width = (100 * n / most).toFixed(1) + "%";
        return el("tr", {}, el("td", { text: String(i) }), el("td", { class: "num", text: n.toLocaleString("en") }), el("td", {}, bar));
      }));
      if (f.error) {
        $("failures-total").textContent = "The failures could not be listed: " + f.error;
        $("failures").tBodies[0].replaceChildren();
      } else {
        $("failures-total").textContent = f.total === 0 ? "No image has failed." : `The newest ${f.failures.length} of ${f.total}:`;
        $("failures").tBodies[0].replaceChildren(...f.failures.map((x) => el("tr", {},
          el("td", { text: x.blobName }), el("td", { text: x.stage }), el("td", { text: x.reason }),
          el("td", {}, el("time", { datetime: x.at, text: new Date(x.at).toLocaleString("en") })))));
      }
      say($("index-status"), "Updated " + new Date().toLocaleTimeString("en") + ".");
    } catch (e) {
      say($("index-status"), "The index status could not be loaded. " + e.message, true);
    }
  }

  function showHeader() {
    $("model-line").textContent = status && status.modelVersion
      ? `Model ${status.modelVersion} · ${status.indexedItems.toLocaleString("en")} images · ${status.runtime}`
      : "No model is active yet.";
  }

  $("refresh-index").addEventListener("click", loadIndex);

  function route() {
    const onIndex = location.hash === "#index";
    $("search-view").hidden = onIndex;
    $("index-view").hidden = !onIndex;
    for (const [tab, on] of [["tab-search", !onIndex], ["tab-index", onIndex]]) {
      if (on) $(tab).setAttribute("aria-current", "page"); else $(tab).removeAttribute("aria-current");
    }
    if (onIndex) loadIndex();
  }
  window.addEventListener("hashchange", route);

  call("index").then((s) => { status = s; showHeader(); fillControls(); })
    .catch((e) => say($("model-line"), "The index status could not be loaded. " + e.message, true));
  route();
})();
