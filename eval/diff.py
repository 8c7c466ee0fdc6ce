"""`recordqa eval diff A B`: what changed between two runs. Pure on the loaded results."""

from __future__ import annotations

from eval.report import TABLE_METRICS

OUTCOMES = {1: "right", 0: "abstained", -1: "wrong"}


def outcome(item: dict) -> str:
    """right / wrong / abstained, from the CRAG score (an abstention on an unanswerable
    question is right); error when the system gave no answer."""
    if item.get("error") and "crag" not in item.get("scores", {}):
        return "error"
    return OUTCOMES[item["scores"]["crag"]]


def diff_results(a: dict, b: dict) -> dict:
    """Metric changes (overall and per language) and the questions whose outcome flipped."""
    changes = []
    blocks_a = {"overall": a["summary"].get("overall", {}), **a["summary"].get("by_lang", {})}
    blocks_b = {"overall": b["summary"].get("overall", {}), **b["summary"].get("by_lang", {})}
    for group in blocks_a.keys() & blocks_b.keys():
        for key, title in TABLE_METRICS:
            va, vb = blocks_a[group].get(key), blocks_b[group].get(key)
            if isinstance(va, int | float) and isinstance(vb, int | float) and round(vb - va, 4) != 0:
                changes.append({"group": group, "metric": title, "a": va, "b": vb, "delta": round(vb - va, 4)})
    changes.sort(key=lambda c: (c["group"] != "overall", c["group"], -abs(c["delta"])))
    items_a = {i["id"]: i for i in a["items"]}
    flips = []
    for item in b["items"]:
        before = items_a.get(item["id"])
        if before is None or not ({"crag"} & set(before.get("scores", {})) or before.get("error")):
            continue
        if outcome(before) != outcome(item):
            flips.append({"id": item["id"], "question": item["question"], "a": outcome(before), "b": outcome(item),
                          "answer_a": before["answer"], "answer_b": item["answer"]})
    only = sorted(items_a.keys() ^ {i["id"] for i in b["items"]})
    same_dataset = _dataset_hash(a) == _dataset_hash(b)
    errors = {"a": sum(1 for i in a["items"] if i.get("error")), "b": sum(1 for i in b["items"] if i.get("error"))}
    return {"changes": changes, "flips": flips, "not_in_both": only, "same_dataset": same_dataset,
            "errors": errors, "a": _ident(a), "b": _ident(b)}


def _dataset_hash(results: dict) -> str | None:
    return results.get("run", {}).get("dataset", {}).get("sha256")


def _ident(results: dict) -> str:
    run = results.get("run", {})
    ident = f"git {run.get('git_revision') or '?'}, settings {run.get('settings_hash') or '?'}"
    # Older results.json files do not name the configuration their top-level items came from.
    return ident + (f", configuration {results['configuration']}" if results.get("configuration") else "")


def format_diff(diff: dict) -> str:
    lines = [f"A: {diff['a']}", f"B: {diff['b']}"]
    if not diff["same_dataset"]:
        lines.append("warning: the runs used different datasets (sha256 differs)")
    if any(diff.get("errors", {}).values()):
        lines.append(f"errors (no answer, not scored): A {diff['errors']['a']}, B {diff['errors']['b']}")
    lines.append("")
    if diff["changes"]:
        lines.append(f"{'group':<10} {'metric':<24} {'A':>8} {'B':>8} {'change':>8}")
        for c in diff["changes"]:
            lines.append(f"{c['group']:<10} {c['metric']:<24} {c['a']:>8.3f} {c['b']:>8.3f} {c['delta']:>+8.3f}")
    else:
        lines.append("no metric changed")
    lines.append("")
    lines.append(f"{len(diff['flips'])} question(s) flipped:")
    for f in diff["flips"]:
        lines.append(f"  {f['id']}: {f['a']} -> {f['b']}  {f['question']}")
    if diff["not_in_both"]:
        lines.append(f"{len(diff['not_in_both'])} question(s) in only one run: {', '.join(diff['not_in_both'][:10])}")
    return "\n".join(lines) + "\n"
