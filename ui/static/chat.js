// RecordQA chat page: opens cited paragraphs ([¶N] links) in a side-by-side zh/en viewer.
// Record text is inserted with textContent only, so nothing in it can run as script.
(() => {
  "use strict";
  const LABELS = {
    en: { zh: "Chinese", en: "English", section: "Section", agenda: "Agenda item", close: "Close",
          paragraph: "Paragraph", pending: "to be completed in the record", error: "Could not open the paragraph" },
    zh: { zh: "中文", en: "英文", section: "章节", agenda: "议程项目", close: "关闭",
          paragraph: "段落", pending: "记录尚待补充", error: "无法打开该段落" },
  };
  const uiLang = () => (document.documentElement.dataset.rqLang === "zh" ? "zh" : "en");
  const t = (key) => LABELS[uiLang()][key];

  function claimBefore(link) {
    // The answer sentence a citation closes: text from the previous citation (or the start of
    // the block) up to this link. The server marks the paragraph's sentences that match it.
    const block = link.closest("p, li, div") || link.parentElement;
    const range = document.createRange();
    range.setStart(block, 0);
    range.setEndBefore(link);
    const before = range.toString();
    const parts = before.split(/\[¶[^\]]*\]/);
    return parts[parts.length - 1].trim().slice(-1000);
  }

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function viewer() {
    let box = document.getElementById("rq-viewer");
    if (box) return box;
    box = el("div", "rq-viewer");
    box.id = "rq-viewer";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-modal", "false");
    box.hidden = true;
    document.body.appendChild(box);
    document.addEventListener("keydown", (ev) => { if (ev.key === "Escape") box.hidden = true; });
    return box;
  }

  function render(box, data) {
    box.replaceChildren();
    const bar = el("div", "rq-viewer-bar");
    const title = el("strong", "rq-viewer-title", `${t("paragraph")} ${data.id} · ${data.symbol || data.record}`);
    const close = el("button", "rq-viewer-close", "×");
    close.type = "button";
    close.title = t("close");
    close.setAttribute("aria-label", t("close"));
    close.addEventListener("click", () => { box.hidden = true; });
    bar.append(title, close);
    const meta = el("div", "rq-viewer-meta");
    const recordTitle = (data.record_titles && data.record_titles[uiLang()]) || data.record_title;
    if (recordTitle) meta.append(el("span", "rq-viewer-record", recordTitle));
    const section = (data.sections && data.sections[uiLang()]) || data.section || data.chapter;
    if (section) meta.append(el("span", null, `${t("section")}: ${section}`));
    if (data.agenda_item) meta.append(el("span", null, `${t("agenda")} ${data.agenda_item}`));
    if (data.pending) meta.append(el("span", "rq-pending", t("pending")));
    const cols = el("div", "rq-viewer-cols");
    for (const lang of ["zh", "en"]) {
      if (!data.sentences[lang]) continue;
      const col = el("section", "rq-col");
      col.dataset.lang = lang;
      col.lang = lang === "zh" ? "zh-CN" : "en";
      col.append(el("h4", null, t(lang)));
      const body = el("p", "rq-text");
      data.sentences[lang].forEach((s, i) => {
        if (i) body.append(document.createTextNode(lang === "zh" ? "" : " "));
        body.append(el(s.highlight ? "mark" : "span", null, s.text));
      });
      col.append(body);
      cols.append(col);
    }
    box.append(bar, meta, cols);
    box.dataset.paragraph = data.id;
    box.hidden = false;
  }

  async function open(key, claim) {
    const box = viewer();
    const url = new URL(`/api/paragraphs/${encodeURIComponent(key)}`, window.location.origin);
    if (claim) url.searchParams.set("highlight", claim);
    try {
      const res = await fetch(url, { headers: { Accept: "application/json" } });
      const data = await res.json();
      if (!res.ok) throw new Error(data.error ? data.error.message : res.statusText);
      render(box, data);
    } catch (err) {
      box.replaceChildren(el("div", "rq-viewer-error", `${t("error")}: ${err.message}`));
      box.hidden = false;
    }
  }

  document.addEventListener("click", (ev) => {
    const link = ev.target instanceof Element ? ev.target.closest('a[href*="#para="]') : null;
    if (!link) return;
    ev.preventDefault();
    ev.stopPropagation();
    const key = decodeURIComponent(link.getAttribute("href").split("#para=")[1] || "");
    open(key, claimBefore(link));
  }, true);
})();
