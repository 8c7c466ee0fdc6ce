"""The Markdown summary and the self-contained HTML report (inline SVG plots, no scripts, no
external files) of an evaluation run. Pure: results in, text out."""

from __future__ import annotations

import html
import math

from eval.score import KS

COLOURS = ["#1d4ed8", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2"]
TABLE_METRICS = [
    ("hit@5", "hit@5"), ("recall@10", "Recall@10"), ("mrr@10", "MRR@10"), ("ndcg@10", "nDCG@10"),
    ("answer_accuracy", "answer accuracy"), ("exact_match", "EM"), ("token_f1", "token F1"),
    ("citation_precision", "citation P"), ("citation_recall", "citation R"), ("has_citation", "answers cited"),
    ("citations_not_retrieved", "citations not retrieved"), ("abstention_precision", "abstain P"),
    ("abstention_recall", "abstain R"), ("abstention_f1", "abstain F1"),
    ("false_abstention_rate", "false abstention"), ("crag_score", "CRAG score"),
]


def _fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _with_ci(block: dict, key: str) -> str:
    ci = (block.get("ci95") or {}).get(key)
    text = _fmt(block.get(key))
    return f"{text} [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else text


def _latency(block: dict, stage: str) -> str:
    lat = block.get(f"latency_ms_{stage}")
    return f"{lat['p50']:.1f} / {lat['p95']:.1f} / {lat['p99']:.1f}" if lat else "–"


def _configs(results: dict) -> dict[str, dict]:
    return {name: c["summary"] for name, c in results.get("configurations", {}).items() if c.get("summary")}


def error_lines(results: dict) -> list[str]:
    """One line per configuration: how many questions got no answer (not scored), and the first
    messages."""
    lines = []
    for name, config in results.get("configurations", {}).items():
        count = config.get("errors", config.get("summary", {}).get("errors", 0)) or 0
        first = config.get("first_errors", config.get("summary", {}).get("first_errors", []))
        line = f"{name}: {count} error{'s' * (count != 1)} (no answer; not scored)"
        if first:
            line += "; first: " + "; ".join(f"{e['id']}: {e['error']}" for e in first)
        lines.append(line)
    return lines


def _judge_note(results: dict) -> str:
    judge = results.get("run", {}).get("judge")
    return judge if isinstance(judge, str) else ""


# --------------------------------------------------------------------------- per record

RECORD_COLUMNS = ["record", "questions", "answerable", "accuracy (answerable)", "abstained (unanswerable)",
                  "answerable that abstained", "hit@5", "citations retrieved", "CRAG"]


def _share_retrieved(block: dict) -> float | None:
    missing = block.get("citations_not_retrieved")
    return None if missing is None or not block.get("citations") else round(1 - missing, 4)


def record_rows(summary: dict) -> list[list[str]]:
    """One row per record of a configuration's summary (``by_record``), in RECORD_COLUMNS order:
    answer accuracy on the answerable questions, abstention on the unanswerable ones, answerable
    questions that abstained, hit@5, and the share of citations that were among the retrieved."""
    return [[record, str(b["questions"]), str(b["answerable"]), _fmt(b["answer_accuracy"]),
             _fmt(b["abstention_recall"]), _fmt(b["false_abstention_rate"]), _fmt(b["hit@5"]),
             _fmt(_share_retrieved(b)), _fmt(b["crag_score"])]
            for record, b in summary.get("by_record", {}).items()]


def record_lines(summary: dict) -> list[str]:
    """The per-record figures of a configuration's summary, one line per record (for a terminal)."""
    lines = []
    for record, b in summary.get("by_record", {}).items():
        lines.append(f"  {record}: {b['questions']} questions ({b['answerable']} answerable); accuracy "
                     f"{_fmt(b['answer_accuracy'])}, abstained on unanswerable {_fmt(b['abstention_recall'])}, "
                     f"answerable that abstained {_fmt(b['false_abstention_rate'])}, hit@5 {_fmt(b['hit@5'])}, "
                     f"citations retrieved {_fmt(_share_retrieved(b))}")
    return lines


def dataset_issue_lines(results: dict) -> list[str]:
    return ([f"dataset error: {line}" for line in results.get("dataset_errors", [])]
            + [f"dataset warning: {line}" for line in results.get("dataset_warnings", [])])


# --------------------------------------------------------------------------- Markdown


def markdown_summary(results: dict) -> str:
    configs = _configs(results)
    run = results.get("run", {})
    lines = ["# RecordQA evaluation", ""]
    dataset = run.get("dataset", {})
    lines.append(f"Dataset `{dataset.get('path', '?')}` (sha256 {dataset.get('sha256', '?')},"
                 f" {run.get('questions', '?')} questions); git {run.get('git_revision') or '?'}; settings "
                 f"{run.get('settings_hash') or '?'}; machine: {run.get('machine', '?')}.")
    if run.get("interrupted"):
        lines += ["", "**Interrupted**: the figures cover the questions finished before Ctrl-C."]
    if results.get("configuration"):
        lines += ["", f"Top-level items (failures, `eval diff`): **{results['configuration']}**."]
    lines += ["", "Errors: " + " · ".join(error_lines(results)) if error_lines(results) else "Errors: none"]
    lines += ["", "## Headline (95% bootstrap intervals)", ""]
    names = list(configs)
    lines.append("| metric | " + " | ".join(names) + " |")
    lines.append("| --- |" + " --- |" * len(names))
    for key, title in TABLE_METRICS:
        lines.append(f"| {title} | " + " | ".join(_with_ci(configs[n]["overall"], key) for n in names) + " |")
    lines.append("| errors (not scored) | " + " | ".join(str(configs[n].get("errors", 0)) for n in names) + " |")
    for stage in ("retrieval", "answer", "total", "ttft"):
        lines.append(f"| latency {stage} ms p50/p95/p99 | "
                     + " | ".join(_latency(configs[n]["overall"], stage) for n in names) + " |")
    judged = results.get("summary", {}).get("overall", {}).get("judge")
    judged_text = (f"{_fmt(judged.get('citation_support'))} / {_fmt(judged.get('faithfulness'))}"
                   if isinstance(judged, dict) else _judge_note(results) or "not computed")
    lines += ["", f"Citation support (ALCE) / faithfulness (RAGAS): {judged_text}"]
    if results.get("dataset_errors") or results.get("dataset_warnings"):
        lines += ["", "## Dataset errors", ""]
        lines += [f"- {line}" for line in dataset_issue_lines(results)]
    if any(configs[n].get("by_record") for n in names):
        lines += ["", "## By record", ""]
        for name in names:
            lines += [f"**{name}**", "", "| " + " | ".join(RECORD_COLUMNS) + " |",
                      "|" + " --- |" * len(RECORD_COLUMNS)]
            lines += ["| " + " | ".join(row) + " |" for row in record_rows(configs[name])]
            lines.append("")
    for split in ("by_lang", "by_crossing", "by_type"):
        lines += ["", f"## {split.replace('by_', 'By ').replace('_', ' ')}", ""]
        for name in names:
            groups = configs[name].get(split, {})
            lines.append(f"**{name}**")
            lines.append("")
            lines.append("| group | questions | hit@5 | MRR@10 | answer accuracy | token F1 | abstain R | "
                         "false abstention | CRAG |")
            lines.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
            for group, block in groups.items():
                lines.append(f"| {group} | {block['questions']} | {_fmt(block['hit@5'])} | {_fmt(block['mrr@10'])} | "
                             f"{_fmt(block['answer_accuracy'])} | {_fmt(block['token_f1'])} | "
                             f"{_fmt(block['abstention_recall'])} | {_fmt(block['false_abstention_rate'])} | "
                             f"{_fmt(block['crag_score'])} |")
            lines.append("")
    if results.get("skipped"):
        lines += ["## Skipped configurations", ""]
        lines += [f"- {name}: {reason}" for name, reason in results["skipped"].items()]
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- SVG plots


def _svg(width: int, height: int, body: list[str], title: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 24}" role="img" '
            f'aria-label="{html.escape(title)}" font-family="system-ui, sans-serif" font-size="12">'
            f'<title>{html.escape(title)}</title>'
            f'<text x="10" y="16" font-size="14" font-weight="600">{html.escape(title)}</text>'
            f'<g transform="translate(0 24)">{"".join(body)}</g></svg>')


def _axes(body: list[str], x0: int, y0: int, w: int, h: int, y_max: float, y_label: str, ticks: int = 5) -> None:
    body.append(f'<line x1="{x0}" y1="{y0}" x2="{x0 + w}" y2="{y0}" stroke="#444"/>')
    body.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y0 - h}" stroke="#444"/>')
    for i in range(ticks + 1):
        value = y_max * i / ticks
        y = y0 - h * i / ticks
        body.append(f'<line x1="{x0 - 4}" y1="{y:.1f}" x2="{x0 + w}" y2="{y:.1f}" stroke="#ddd"/>')
        body.append(f'<text x="{x0 - 6}" y="{y + 4:.1f}" text-anchor="end">{value:.2g}</text>')
    body.append(f'<text x="{x0 - 40}" y="{y0 - h / 2}" transform="rotate(-90 {x0 - 40} {y0 - h / 2})" '
                f'text-anchor="middle">{html.escape(y_label)}</text>')


def _legend(body: list[str], names: list[str], x: int, y: int) -> None:
    for i, name in enumerate(names):
        body.append(f'<rect x="{x}" y="{y + 18 * i - 9}" width="12" height="12" fill="{COLOURS[i % len(COLOURS)]}"/>')
        body.append(f'<text x="{x + 18}" y="{y + 18 * i + 1}">{html.escape(name)}</text>')


def line_chart(series: dict[str, list[tuple[float, float]]], title: str, x_label: str, y_label: str) -> str:
    width, height, x0, y0, w, h = 640, 320, 70, 270, 420, 230
    xs = sorted({x for points in series.values() for x, _ in points}) or [0, 1]
    x_min, x_max = min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1
    body: list[str] = []
    _axes(body, x0, y0, w, h, 1.0, y_label)
    for x in xs:
        px = x0 + w * (x - x_min) / (x_max - x_min)
        body.append(f'<text x="{px:.1f}" y="{y0 + 16}" text-anchor="middle">{x:g}</text>')
    body.append(f'<text x="{x0 + w / 2}" y="{y0 + 34}" text-anchor="middle">{html.escape(x_label)}</text>')
    for i, points in enumerate(series.values()):
        colour = COLOURS[i % len(COLOURS)]
        coords = [(x0 + w * (x - x_min) / (x_max - x_min), y0 - h * y) for x, y in points if y is not None]
        if coords:
            body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                        + " ".join(f"{px:.1f},{py:.1f}" for px, py in coords) + '"/>')
            body += [f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3.5" fill="{colour}"/>' for px, py in coords]
    _legend(body, list(series), x0 + w + 20, 40)
    return _svg(width, height, body, title)


def bar_chart(groups: dict[str, dict[str, float | None]], title: str, y_label: str, y_max: float = 1.0) -> str:
    names = list(dict.fromkeys(n for values in groups.values() for n in values))
    categories = list(groups)
    width = max(640, 90 + 70 * len(categories) * max(1, len(names)) // 2 + 160)
    height, x0, y0, h = 340, 70, 260, 220
    w = width - x0 - 170
    body: list[str] = []
    _axes(body, x0, y0, w, h, y_max, y_label)
    slot = w / max(1, len(categories))
    bar_w = max(4.0, (slot - 10) / max(1, len(names)))
    for ci, category in enumerate(categories):
        for ni, name in enumerate(names):
            value = groups[category].get(name)
            if value is None:
                continue
            bh = h * max(0.0, min(value, y_max)) / y_max
            bx = x0 + ci * slot + 5 + ni * bar_w
            body.append(f'<rect x="{bx:.1f}" y="{y0 - bh:.1f}" width="{bar_w - 1:.1f}" height="{bh:.1f}" '
                        f'fill="{COLOURS[ni % len(COLOURS)]}"><title>{html.escape(category)} · {html.escape(name)}: '
                        f'{value:.3f}</title></rect>')
        label_x = x0 + ci * slot + slot / 2
        body.append(f'<text x="{label_x:.1f}" y="{y0 + 14}" text-anchor="end" '
                    f'transform="rotate(-30 {label_x:.1f} {y0 + 14})">{html.escape(category)}</text>')
    _legend(body, names, x0 + w + 20, 40)
    return _svg(width, height, body, title)


def histogram(series: dict[str, list[float]], title: str, x_label: str, bins: int = 20) -> str:
    values = [v for vs in series.values() for v in vs]
    width, height, x0, y0, w, h = 640, 320, 70, 270, 420, 230
    body: list[str] = []
    if not values:
        return _svg(width, height, ['<text x="20" y="40">no latencies recorded</text>'], title)
    # Log-spaced bins: latencies spread over orders of magnitude (lexical vs dense vs HTTP).
    lo, hi = max(min(values), 0.01), max(values)
    hi = hi if hi > lo else lo * 2
    edges = [math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * i / bins) for i in range(bins + 1)]
    counts = {name: [0] * bins for name in series}
    for name, vs in series.items():
        for v in vs:
            i = min(bins - 1, max(0, int(bins * (math.log(max(v, lo)) - math.log(lo)) / (math.log(hi) - math.log(lo)))))
            counts[name][i] += 1
    peak = max(max(c) for c in counts.values()) or 1
    _axes(body, x0, y0, w, h, peak, "questions")
    bin_w = w / bins
    for ni, cs in enumerate(counts.values()):
        colour = COLOURS[ni % len(COLOURS)]
        for i, c in enumerate(cs):
            if c:
                bh = h * c / peak
                body.append(f'<rect x="{x0 + i * bin_w:.1f}" y="{y0 - bh:.1f}" width="{bin_w - 1:.1f}" '
                            f'height="{bh:.1f}" fill="{colour}" fill-opacity="0.55"/>')
    for i in range(0, bins + 1, max(1, bins // 5)):
        body.append(f'<text x="{x0 + i * bin_w:.1f}" y="{y0 + 16}" text-anchor="middle">{edges[i]:.3g}</text>')
    body.append(f'<text x="{x0 + w / 2}" y="{y0 + 34}" text-anchor="middle">{html.escape(x_label)}</text>')
    _legend(body, list(series), x0 + w + 20, 40)
    return _svg(width, height, body, title)


def scatter(points: list[tuple[str, float, float]], title: str, x_label: str, y_label: str) -> str:
    width, height, x0, y0, w, h = 640, 320, 70, 270, 420, 230
    body: list[str] = []
    _axes(body, x0, y0, w, h, 1.0, y_label)
    for i in range(6):
        body.append(f'<text x="{x0 + w * i / 5:.1f}" y="{y0 + 16}" text-anchor="middle">{i / 5:.1f}</text>')
    body.append(f'<text x="{x0 + w / 2}" y="{y0 + 34}" text-anchor="middle">{html.escape(x_label)}</text>')
    series: dict[str, list[tuple[float, float, str]]] = {}
    for label, x, y in points:
        name, _, tag = label.partition("@")
        series.setdefault(name, []).append((x, y, tag))
    for i, pts in enumerate(series.values()):
        colour = COLOURS[i % len(COLOURS)]
        coords = [(x0 + w * x, y0 - h * y, tag) for x, y, tag in pts]
        if len(coords) > 1:
            body.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="'
                        + " ".join(f"{px:.1f},{py:.1f}" for px, py, _ in coords) + '"/>')
        for px, py, tag in coords:
            body.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{colour}"/>')
            if tag:
                body.append(f'<text x="{px + 6:.1f}" y="{py - 6:.1f}" font-size="10">{html.escape(tag)}</text>')
    _legend(body, list(series), x0 + w + 20, 40)
    return _svg(width, height, body, title)


# --------------------------------------------------------------------------- HTML

CSS = """body{font:14px/1.5 system-ui,sans-serif;margin:24px auto;max-width:1100px;color:#111;padding:0 16px}
table{border-collapse:collapse;margin:8px 0 20px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}thead th{background:#f3f4f6}.note{color:#555}
.fail{border:1px solid #e5e7eb;border-radius:8px;padding:8px 12px;margin:10px 0}
.cols{display:grid;grid-template-columns:1fr 1fr;gap:12px}.para{white-space:pre-line;font-size:13px}
h2{margin-top:32px}.tag{display:inline-block;background:#eef;border-radius:4px;padding:0 6px;margin-right:6px}"""


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _paragraph_texts(corpus, paragraph: str) -> dict[str, str]:
    if corpus is None:
        return {}
    key = corpus.resolve(paragraph)
    if key is None:
        return {}
    return {lang: p.text for lang in corpus.languages if (p := corpus.get(key, lang)) is not None}


def worst_failures(items: list[dict], limit: int = 15) -> list[dict]:
    """Wrong answers first (a confident wrong answer costs most), then answerable questions that
    abstained, each group with the weakest retrieval first."""
    failures = [i for i in items if not i.get("error") and i["scores"]["crag"] < 1]
    return sorted(failures, key=lambda i: (i["scores"]["crag"], i["scores"].get("mrr@10") or 0.0, i["id"]))[:limit]


def _failure_html(item: dict, corpus) -> str:
    kind = ("wrong answer" if item["answerable"] and not item["abstained"] else
            "answered an unanswerable question" if not item["answerable"] else "abstained although answerable")
    parts = [f'<div class="fail"><div><span class="tag">{html.escape(item["id"])}</span>'
             f'<span class="tag">{html.escape(item["lang"])}</span><span class="tag">{html.escape(item["type"])}</span>'
             f"<strong>{html.escape(kind)}</strong></div>",
             f"<p><b>Q:</b> {html.escape(item['question'])}</p>",
             f"<p><b>A:</b> {html.escape(item['answer'] or item.get('error') or '')}</p>",
             f"<p><b>accepted:</b> {html.escape(' | '.join(item['answers']) or '(none: unanswerable)')}; "
             f"<b>gold:</b> {html.escape(', '.join(item['gold_paragraphs']) or '–')}; "
             f"<b>cited:</b> {html.escape(', '.join(item['citations']) or '–')}; "
             f"<b>retrieved:</b> {html.escape(', '.join((item['retrieved'] or [])[:5]) or '–')}</p>"]
    shown = list(dict.fromkeys([*item["citations"], *item["gold_paragraphs"]]))[:3]
    for paragraph in shown:
        texts = _paragraph_texts(corpus, paragraph)
        if not texts:
            continue
        role = "cited" if paragraph in item["citations"] else "gold"
        role += " + gold" if role == "cited" and paragraph in item["gold_paragraphs"] else ""
        cols = "".join(f'<div><b>¶{html.escape(paragraph)} ({html.escape(role)}, {html.escape(lang)})</b>'
                       f'<div class="para">{html.escape(text)}</div></div>' for lang, text in texts.items())
        parts.append(f'<div class="cols">{cols}</div>')
    parts.append("</div>")
    return "".join(parts)


def html_report(results: dict, *, corpus=None) -> str:
    configs = _configs(results)
    run = results.get("run", {})
    names = list(configs)
    out = ["<!doctype html><html lang='en'><head><meta charset='utf-8'><title>RecordQA evaluation</title>",
           f"<style>{CSS}</style></head><body><h1>RecordQA evaluation</h1>"]
    dataset = run.get("dataset", {})
    out.append(f"<p class='note'>Dataset {html.escape(str(dataset.get('path', '?')))} (sha256 "
               f"{html.escape(str(dataset.get('sha256', '?')))}, {run.get('questions', '?')} questions) · git "
               f"{html.escape(str(run.get('git_revision') or '?'))} · settings "
               f"{html.escape(str(run.get('settings_hash')))}"
               f" · {html.escape(str(run.get('machine', '')))} · {html.escape(str(run.get('started', '')))}</p>")
    if run.get("interrupted"):
        out.append("<p><strong>Interrupted</strong>: figures cover the questions finished before Ctrl-C.</p>")
    out.append("<h2>Headline metrics (95% bootstrap intervals)</h2>")
    rows = [[title, *(_with_ci(configs[n]["overall"], key) for n in names)] for key, title in TABLE_METRICS]
    rows.append(["errors (not scored)", *(str(configs[n].get("errors", 0)) for n in names)])
    rows += [[f"latency {stage} ms p50/p95/p99", *(_latency(configs[n]["overall"], stage) for n in names)]
             for stage in ("retrieval", "answer", "total", "ttft")]
    out.append(_table(["metric", *names], rows))
    out.append("<p class='errors'>Errors: " + (" · ".join(html.escape(line) for line in error_lines(results))
                                               or "none") + "</p>")
    judged = results.get("summary", {}).get("overall", {}).get("judge")
    out.append("<p>Citation support (ALCE) / faithfulness (RAGAS): " + html.escape(
        f"{_fmt(judged.get('citation_support'))} / {_fmt(judged.get('faithfulness'))}" if isinstance(judged, dict)
        else _judge_note(results) or "not computed") + "</p>")
    if results.get("dataset_errors") or results.get("dataset_warnings"):
        out.append("<p>" + "<br>".join(html.escape(line) for line in dataset_issue_lines(results)) + "</p>")
    for n in names:
        if configs[n].get("by_record"):
            out.append(f"<h2>By record ({html.escape(n)})</h2>")
            out.append(_table(RECORD_COLUMNS, record_rows(configs[n])))
    if results.get("skipped"):
        out.append("<p>Skipped: " + "; ".join(f"<b>{html.escape(n)}</b>: {html.escape(r)}"
                                               for n, r in results["skipped"].items()) + "</p>")
    out.append("<h2>Plots</h2>")
    curve = {n: [(k, configs[n]["overall"].get(f"recall@{k}")) for k in KS] for n in names}
    out.append(line_chart(curve, "Recall@k per configuration", "k", "Recall@k"))
    item_lists = [results.get("items", []), *results.get("all_items", {}).values()]
    latencies = {n: [i["timings_ms"]["total"] for i in items if i.get("timings_ms", {}).get("total") is not None]
                 for n, items in zip(names, item_lists, strict=False)}
    out.append(histogram(latencies, "Total latency per question (log-spaced bins)", "milliseconds"))
    for split, title in (("by_lang", "by question language"), ("by_crossing", "cross-lingual vs same-language"),
                         ("by_type", "by question type")):
        groups = {g: {f"{n}: accuracy": configs[n].get(split, {}).get(g, {}).get("answer_accuracy") for n in names}
                  for g in next(iter(configs.values()), {}).get(split, {})}
        for g in groups:
            groups[g].update({f"{n}: hit@5": configs[n].get(split, {}).get(g, {}).get("hit@5") for n in names})
        out.append(bar_chart(groups, f"Answer accuracy and hit@5 {title}", "share"))
    points = [(n, configs[n]["overall"].get("false_abstention_rate") or 0.0,
               configs[n]["overall"].get("abstention_recall") or 0.0) for n in names]
    for point in results.get("tradeoff", []):
        points.append((f"{point.get('configuration', '')} answer threshold@{point['answer_threshold']:g}",
                       point["false_abstention_rate"] or 0.0,
                       point["abstention_recall"] or 0.0))
    out.append(scatter(points, "Abstention trade-off", "false abstention rate (answerable questions)",
                       "abstention recall (unanswerable questions)"))
    for split, title in (("by_lang", "By language"), ("by_crossing", "Cross-lingual vs same-language"),
                         ("by_type", "By question type")):
        out.append(f"<h2>{title}</h2>")
        for n in names:
            rows = [[g, str(b["questions"]), _fmt(b["hit@5"]), _fmt(b["recall@10"]), _fmt(b["mrr@10"]),
                     _fmt(b["answer_accuracy"]), _fmt(b["token_f1"]), _fmt(b["abstention_recall"]),
                     _fmt(b["false_abstention_rate"]), _fmt(b["crag_score"])]
                    for g, b in configs[n].get(split, {}).items()]
            out.append(f"<h3>{html.escape(n)}</h3>")
            out.append(_table(["group", "questions", "hit@5", "Recall@10", "MRR@10", "accuracy", "token F1",
                               "abstain R", "false abstention", "CRAG"], rows))
    shown = results.get("configuration") or (names[0] if names else "")
    out.append(f"<h2>Worst failures ({html.escape(str(shown))})</h2>")
    out += [_failure_html(item, corpus) for item in worst_failures(results.get("items", []))]
    out.append("</body></html>")
    return "\n".join(out)
