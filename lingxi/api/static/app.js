// lingxi web app: the key in localStorage, sent as a Bearer header on every htmx and fetch call;
// ask and chat read server-sent events from /v1 with fetch (EventSource cannot send a header).
(function () {
  "use strict";
  const $ = (s) => document.querySelector(s);
  const body = document.body;
  let key = localStorage.getItem("lingxi_key") || "";

  const auth = () => ({ Authorization: "Bearer " + key });
  document.body.addEventListener("htmx:configRequest", (e) => { if (key) e.detail.headers.Authorization = "Bearer " + key; });

  async function login(k) {
    const r = await fetch("/v1/me", { headers: { Authorization: "Bearer " + k } });
    if (!r.ok) return false;
    key = k; localStorage.setItem("lingxi_key", k);
    $("#user").textContent = (await r.json()).user;
    $("#login").hidden = true; $("#app").hidden = false; $("#who").hidden = false;
    loadMemories(); loadHistory();
    return true;
  }
  $("#login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("#login-error").hidden = await login($("#key").value.trim());
  });
  $("#logout").addEventListener("click", () => { localStorage.removeItem("lingxi_key"); location.reload(); });
  if (key) login(key).then((ok) => { if (!ok) localStorage.removeItem("lingxi_key"); });

  // tabs
  document.querySelectorAll(".tabs button").forEach((b) => b.addEventListener("click", () => {
    document.querySelectorAll(".tabs button").forEach((x) => x.classList.toggle("on", x === b));
    document.querySelectorAll(".tab").forEach((t) => { t.hidden = t.id !== "tab-" + b.dataset.tab; });
    if (b.dataset.tab === "feed") htmx.trigger("#feed", "feed");
  }));

  // open a note at a passage: hits, feed items and citations
  function openNote(noteId, chunkId, quote) {
    const q = new URLSearchParams({ chunk: chunkId || "", quote: quote || "" });
    document.querySelector('[data-tab="find"]').click();
    htmx.ajax("GET", "/ui/notes/" + encodeURIComponent(noteId) + "?" + q, { target: "#note", swap: "innerHTML" });
  }
  document.body.addEventListener("click", (e) => {
    const a = e.target.closest("a.open, a.cite");
    if (a) {
      e.preventDefault();
      const li = a.closest("[data-note]");
      openNote(li.dataset.note, li.dataset.chunk, li.dataset.quote);
    }
    if (e.target.matches("#note .close")) $("#note").innerHTML = "";
  });
  document.body.addEventListener("htmx:afterSwap", (e) => {
    if (e.detail.target.id === "note") {
      // scroll the note panel (not the page) so the passage sits in its middle
      const pane = $("#note"), t = $("#note .target");
      if (t) pane.scrollTop += t.getBoundingClientRect().top - pane.getBoundingClientRect().top - pane.clientHeight / 2 + t.clientHeight / 2;
    }
  });

  // server-sent events over fetch
  async function stream(url, payload, on) {
    const r = await fetch(url, { method: "POST", body: JSON.stringify(payload),
      headers: { ...auth(), "Content-Type": "application/json", Accept: "text/event-stream" } });
    if (!r.ok) { const j = await r.json().catch(() => ({})); on("error", { detail: j.detail || r.statusText }); return; }
    const reader = r.body.getReader(); const dec = new TextDecoder(); let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += dec.decode(value, { stream: true });
      let i;
      while ((i = buf.indexOf("\n\n")) >= 0) {
        const block = buf.slice(0, i); buf = buf.slice(i + 2);
        const ev = (block.match(/^event: (.*)$/m) || [])[1] || "message";
        const data = (block.match(/^data: (.*)$/m) || [])[1];
        if (data) on(ev, JSON.parse(data));
      }
    }
  }

  function stepLine(s) {
    const d = s;
    let text = s.kind;
    if (s.kind === "plan") text += ": " + (d.sub_questions || []).map((q) => q.question).join(" | ");
    else if (s.kind === "search") text += ": " + d.query + " → " + (d.hits || []).length;
    else if (s.kind === "read") text += ": " + (d.question || "") + (d.found ? " ✓ " + (d.answer || "") : " ✗");
    else if (s.kind === "gather") text += ": " + (d.passages || []).length;
    else if (s.kind === "draft") text += ": " + (d.short_answer || "");
    else if (s.kind === "decide") text += ": " + (d.reason || "");
    else if (s.kind === "answer") text += ": " + (d.citations || 0);
    if (s.error) text += " ! " + s.error;
    return text + (s.seconds ? "  (" + s.seconds.toFixed(1) + "s)" : "");
  }
  const esc = (t) => t.replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));

  $("#ask-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("#ask-out").hidden = false; $("#steps").innerHTML = ""; $("#citations").innerHTML = "";
    $("#answer").textContent = body.dataset.thinking;
    let drafting = false;
    await stream("/v1/ask", { question: $("#question").value }, (ev, d) => {
      if (ev === "token") {  // the draft as the model writes it; the answer event replaces it with the checked one
        if (!drafting) { $("#answer").textContent = ""; $("#answer").classList.add("draft"); drafting = true; }
        $("#answer").textContent += d.text;
      } else if (ev === "step") { const li = document.createElement("li"); li.className = "step " + d.kind; li.textContent = stepLine(d); $("#steps").append(li); }
      else if (ev === "answer") {
        $("#answer").classList.remove("draft");
        $("#answer").innerHTML = esc(d.answer).replace(/\[(\d+)\]/g, '<sup class="ref">[$1]</sup>');
        for (const c of d.citations) {
          const li = document.createElement("li");
          li.dataset.note = c.note_id; li.dataset.chunk = c.chunk_id; li.dataset.quote = c.quote;
          li.innerHTML = '<a href="#" class="cite">' + esc(c.title) + "</a> <span class=\"time\">" + esc(c.locator) + "</span><q>" + esc(c.quote) + "</q>";
          $("#citations").append(li);
        }
      } else if (ev === "error") $("#answer").textContent = d.detail;
    });
  });

  // companion chat with the memory panel
  function loadMemories() {
    htmx.ajax("GET", "/ui/memories?persona=" + encodeURIComponent($("#persona").value), { target: "#memories", swap: "innerHTML" });
  }
  async function loadHistory() {  // the conversation so far with this persona
    const r = await fetch("/v1/chat/history?limit=20&persona=" + encodeURIComponent($("#persona").value), { headers: auth() });
    if (!r.ok) return;
    $("#chat-log").innerHTML = "";
    for (const t of (await r.json()).turns) {
      const p = document.createElement("p"); p.className = t.speaker === "user" ? "me" : "it"; p.textContent = t.text;
      $("#chat-log").append(p);
    }
  }
  $("#persona").addEventListener("change", () => { loadMemories(); loadHistory(); });
  $("#chat-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const msg = $("#message").value; $("#message").value = "";
    const me = document.createElement("p"); me.className = "me"; me.textContent = msg;
    const it = document.createElement("p"); it.className = "it"; it.textContent = "";
    $("#chat-log").append(me, it);
    await stream("/v1/chat", { persona: $("#persona").value, message: msg }, (ev, d) => {
      if (ev === "token") it.textContent += d.text;
      else if (ev === "reply") { it.textContent = d.reply; loadMemories(); }
      else if (ev === "error") { it.textContent = d.detail; it.classList.add("error"); }
    });
  });

  // drag-and-drop upload, one result line per file
  const drop = $("#drop");
  async function upload(files) {
    if (!files.length) return;
    const fd = new FormData();
    for (const f of files) fd.append("files", f);
    fd.append("visibility", $("#visibility").value);
    const r = await fetch("/ui/files", { method: "POST", body: fd, headers: auth() });
    const html = await r.text();
    $("#uploads").insertAdjacentHTML("afterbegin", r.ok ? html : '<li class="upload failed">' + esc(html) + "</li>");
  }
  drop.addEventListener("click", () => $("#files").click());
  $("#files").addEventListener("change", (e) => upload(e.target.files));
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => { e.preventDefault(); drop.classList.remove("over"); upload(e.dataTransfer.files); });
})();
