// RecordQA widget: <script src="https://recordqa.example/embed.js" data-lang="zh" data-title="…" data-record="ID"></script>
// data-record restricts the widget's questions to one loaded record; without data-title the title
// comes from the loaded records (GET /api/records).
// Adds a floating button that opens the chat (an iframe to /widget/) in a panel. Everything lives in
// one shadow root: no global CSS, no globals, nothing fetched from anywhere but the RecordQA server.
(() => {
  "use strict";
  const script = document.currentScript;
  if (!script || !script.src) return;
  const server = new URL(script.src).origin;
  const lang = ["zh", "en"].includes(script.dataset.lang) ? script.dataset.lang : "";
  const pageLang = lang || ((navigator.language || "").toLowerCase().startsWith("zh") ? "zh" : "en");
  const TEXT = {
    en: { open: "Ask the record", close: "Close",
          refused: "This page is not allowed to embed RecordQA. Ask the RecordQA administrator to add this "
                 + "site's origin to RECORDQA_EMBED_ORIGINS.",
          down: "RecordQA cannot be reached right now." },
    zh: { open: "查询会议记录", close: "关闭",
          refused: "本页面无权嵌入 RecordQA。请联系 RecordQA 管理员将本网站的来源加入 RECORDQA_EMBED_ORIGINS。",
          down: "目前无法连接 RecordQA。" },
  }[pageLang];
  const record = script.dataset.record || "";
  let title = script.dataset.title || "RecordQA";

  const host = document.createElement("div");
  host.setAttribute("data-recordqa-widget", "");
  const root = host.attachShadow({ mode: "open" });
  root.innerHTML = `
    <style>
      :host { all: initial; }
      .launcher { position: fixed; right: 20px; bottom: 20px; z-index: 2147483000; width: 56px; height: 56px;
        border-radius: 50%; border: 0; background: #1d4ed8; color: #fff; font: 600 22px/1 system-ui, sans-serif;
        box-shadow: 0 4px 14px rgba(0,0,0,.3); cursor: pointer; }
      .panel { position: fixed; right: 20px; bottom: 88px; z-index: 2147483000; width: min(420px, calc(100vw - 40px));
        height: min(640px, calc(100vh - 120px)); display: flex; flex-direction: column; background: #fff;
        border-radius: 12px; box-shadow: 0 10px 40px rgba(0,0,0,.3); overflow: hidden;
        font: 14px/1.4 system-ui, sans-serif; color: #111; }
      .panel[hidden] { display: none; }
      .bar { display: flex; align-items: center; justify-content: space-between; padding: 8px 12px;
        background: #1d4ed8; color: #fff; }
      .bar button { border: 0; background: transparent; color: #fff; font-size: 20px; cursor: pointer; }
      .body { flex: 1; display: flex; }
      iframe { flex: 1; border: 0; width: 100%; height: 100%; }
      .message { margin: auto; padding: 24px; text-align: center; }
    </style>
    <button class="launcher" type="button" part="launcher">?</button>
    <div class="panel" role="dialog" hidden>
      <div class="bar"><span class="title"></span><button class="close" type="button">×</button></div>
      <div class="body"></div>
    </div>`;
  const launcher = root.querySelector(".launcher");
  const panel = root.querySelector(".panel");
  const body = root.querySelector(".body");
  root.querySelector(".title").textContent = title;
  launcher.title = TEXT.open;
  launcher.setAttribute("aria-label", TEXT.open);
  root.querySelector(".close").setAttribute("aria-label", TEXT.close);
  let loaded = false;

  function message(text, kind) {
    const note = document.createElement("div");
    note.className = `message ${kind}`;
    note.textContent = text;
    body.replaceChildren(note);
  }

  async function load() {
    loaded = true;
    // The server's CORS policy answers this only for allowed origins; the chat view's CSP
    // frame-ancestors enforces the same list even if this check is skipped.
    let allowed = false;
    try {
      const res = await fetch(`${server}/healthz`, { mode: "cors", credentials: "omit" });
      allowed = res.ok;
      if (!allowed) { message(TEXT.down, "down"); return; }
    } catch (_) {
      message(TEXT.refused, "refused");
      return;
    }
    if (!script.dataset.title) {
      try {
        const res = await fetch(`${server}/api/records`, { mode: "cors", credentials: "omit" });
        const info = await res.json();
        const own = record && info.records.find((r) => r.id === record);
        title = (own && (own.symbol || own.title)) || info.title[pageLang] || title;
        root.querySelector(".title").textContent = title;
      } catch (_) { /* the default title stays */ }
    }
    const frame = document.createElement("iframe");
    frame.title = title;
    frame.src = `${server}/widget/?lang=${encodeURIComponent(lang)}&embed=1`
      + (record ? `&record=${encodeURIComponent(record)}` : "");
    frame.setAttribute("referrerpolicy", "origin");
    body.replaceChildren(frame);
  }

  function toggle(open) {
    panel.hidden = !open;
    if (open && !loaded) load();
  }
  launcher.addEventListener("click", () => toggle(panel.hidden));
  root.querySelector(".close").addEventListener("click", () => toggle(false));
  (document.body || document.documentElement).appendChild(host);
})();
