"""The evaluation harness: every metric on small hand-worked examples, then whole runs of
`recordqa eval` on a tiny dataset (in-process, against the real server, diff, BEIR export)."""

from __future__ import annotations

import json
import math
import re

import pytest

from eval import metrics as m
from eval.dataset import DatasetError, export_beir, load_dataset
from eval.diff import diff_results, format_diff
from eval.judge import Judge, statements, verdict
from eval.run import run_items
from eval.score import block, score_item, summarise
from eval.systems import Outcome
from recordqa.settings import PROJECT_ROOT

# --------------------------------------------------------------------------- retrieval metrics


def test_retrieval_metrics_by_hand():
    retrieved, gold = ["7", "3", "7", "9", "4"], ["3", "4"]
    # Deduplicated ranking: 7, 3, 9, 4 -> gold at ranks 2 and 4.
    assert m.hit_at(retrieved, gold, 1) == 0.0
    assert m.hit_at(retrieved, gold, 3) == 1.0
    assert m.recall_at(retrieved, gold, 3) == 0.5
    assert m.recall_at(retrieved, gold, 10) == 1.0
    assert m.mrr_at(retrieved, gold, 10) == 0.5
    assert m.mrr_at(retrieved, gold, 1) == 0.0
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert m.ndcg_at(retrieved, gold, 10) == pytest.approx(dcg / idcg)
    assert m.ndcg_at(["3", "4"], gold, 10) == pytest.approx(1.0)
    assert m.ndcg_at(["1"], gold, 10) == 0.0


def test_answer_metrics_by_hand():
    answer = "She was elected by acclamation. [¶3]"
    assert m.contains_accepted(answer, ["ACCLAMATION"]) is True
    assert m.contains_accepted(answer, ["¶3"]) is False  # citations are not answer text
    assert m.exact_match("By acclamation [¶3]", ["by acclamation."]) == 1.0
    assert m.exact_match(answer, ["by acclamation"]) == 0.0
    # English: articles dropped; 'she was elected by acclamation' vs 'by acclamation': P 2/5, R 2/2.
    assert m.token_f1(answer, ["the acclamation", "by acclamation"], "en") == pytest.approx(2 * 0.4 * 1 / 1.4)
    # Chinese: characters; Latin words whole. '在内罗毕举行' vs '内罗毕': P 3/6, R 1.
    assert m.token_f1("在内罗毕举行 [¶1]", ["内罗毕"], "zh") == pytest.approx(2 * 0.5 / 1.5)
    assert m.answer_tokens("Martha Delgado 女士（墨西哥）", "zh") == ["martha", "delgado", "女", "士", "墨", "西", "哥"]
    assert m.token_f1("nothing shared", ["内罗毕"], "zh") == 0.0


def test_citation_abstention_and_crag_by_hand():
    assert m.citation_precision(["3", "5"], ["3"]) == 0.5
    assert m.citation_recall(["3", "5"], ["3", "4"]) == 0.5
    assert m.citation_precision([], ["3"]) is None
    # 4 answerable (1 abstained) and 2 unanswerable (1 abstained): TP 1, FP 1.
    scores = m.abstention_scores([True, True, True, True, False, False], [True, False, False, False, True, False])
    assert scores == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "false_abstention_rate": 0.25}
    assert m.abstention_scores([True], [False])["precision"] is None
    assert [m.crag_score(True, False, True), m.crag_score(True, True, False), m.crag_score(True, False, False),
            m.crag_score(False, True, False), m.crag_score(False, False, False)] == [1, 0, -1, 1, -1]


def test_percentiles_and_bootstrap_interval():
    assert m.percentile([10, 20, 30, 40], 0.5) == 25.0
    assert m.percentile([10, 20, 30, 40], 0.95) == 38.5
    values = [1.0] * 30 + [0.0] * 10
    ci = m.bootstrap_ci(values, lambda s: sum(s) / len(s), resamples=500, seed=1)
    assert ci == m.bootstrap_ci(values, lambda s: sum(s) / len(s), resamples=500, seed=1)  # seeded
    assert 0.55 < ci[0] < 0.75 < ci[1] < 0.9
    assert m.bootstrap_ci([1.0] * 5, lambda s: sum(s) / len(s)) == (1.0, 1.0)


def test_retry_after_and_the_retry_budget():
    from datetime import UTC, datetime

    from eval.retry import RetryPolicy, retry_after_s

    now = datetime(2015, 10, 21, 7, 27, tzinfo=UTC)
    assert retry_after_s("120") == 120.0
    assert retry_after_s("Wed, 21 Oct 2015 07:28:00 GMT", now) == 60.0
    assert retry_after_s("Wed, 21 Oct 2015 07:00:00 GMT", now) == 0.0  # a date passed: ask now
    assert retry_after_s("soon") is None and retry_after_s(None) is None
    policy = RetryPolicy(retries=3, budget_s=10)
    assert [policy.wait(r, None, 0) for r in range(4)] == [0.5, 1.0, 2.0, None]
    assert policy.wait(0, 4, 0) == 4 and policy.wait(1, 4, 8) is None  # the server's time, within the budget


# --------------------------------------------------------------------------- scoring and summaries


def _item(id_, lang, answerable, gold, answers, type_="fact"):
    return {"id": id_, "question": f"q {id_}", "lang": lang, "answerable": answerable, "gold_paragraphs": gold,
            "answers": answers, "type": type_}


def _scored(item, retrieved, answer, citations, abstained, total_ms=10.0):
    result = {"retrieved": retrieved, "answer": answer, "citations": citations, "abstained": abstained}
    return {**item, "cross_lingual": item["type"] == "cross_lingual", **result,
            "timings_ms": {"total": total_ms}, "scores": score_item(item, result)}


def test_summary_of_four_items_by_hand():
    items = [
        _scored(_item("a", "en", True, ["3"], ["acclamation"]), ["3", "1"], "By acclamation [¶3]", ["3"], False, 10),
        _scored(_item("b", "zh", True, ["5"], ["内罗毕"], "cross_lingual"), ["2", "5"], "在日内瓦 [¶2]", ["2"], False,
                20),
        _scored(_item("c", "en", False, ["23"], [], "unanswerable_pending"), ["23"], "Not filled in.", [], True, 30),
        _scored(_item("d", "zh", True, ["7"], ["2019"]), ["8"], "记录没有说明。", [], True, 40),
    ]
    overall = block(items)
    assert overall["hit@1"] == pytest.approx(1 / 3, abs=1e-4) and overall["hit@5"] == pytest.approx(2 / 3, abs=1e-4)
    assert overall["mrr@10"] == pytest.approx((1 + 0.5 + 0) / 3, abs=1e-4)
    assert overall["answer_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert overall["citation_precision"] == 0.5  # a: 1, b: 0 (d abstained, c unanswerable)
    assert overall["has_citation"] == 1.0
    assert overall["citations_not_retrieved"] == 0.0
    assert overall["abstention_precision"] == 0.5 and overall["abstention_recall"] == 1.0
    assert overall["false_abstention_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert overall["crag_score"] == pytest.approx((1 - 1 + 1 + 0) / 4)
    assert overall["latency_ms_total"] == {"p50": 25.0, "p95": 38.5, "p99": 39.7}
    summary = summarise(items, resamples=200)
    assert set(summary["by_lang"]) == {"en", "zh"} and summary["en"] == summary["by_lang"]["en"]
    assert summary["by_crossing"]["cross_lingual"]["questions"] == 1
    assert summary["by_type"]["unanswerable_pending"]["abstention_recall"] == 1.0
    low, high = summary["overall"]["ci95"]["crag_score"]
    assert low <= 0.25 <= high


def test_a_citation_that_was_not_retrieved_is_counted():
    item = _scored(_item("a", "en", True, ["3"], ["x"]), ["1"], "x [¶3]", ["3"], False)
    assert block([item])["citations_not_retrieved"] == 1.0
    assert item["scores"]["citations_retrieved"] is False


# --------------------------------------------------------------------------- datasets


def test_dataset_loads_ragas_fields_and_rejects_duplicates(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"user_input": "Who chaired?", "reference": "Delgado Peralta",
                                "reference_context_ids": [3]}) + "\n", encoding="utf-8")
    [item] = load_dataset(path)
    assert item["question"] == "Who chaired?" and item["lang"] == "en" and item["answerable"] is True
    assert item["gold_paragraphs"] == ["3"] and item["answers"] == ["Delgado Peralta"]
    line = json.dumps({"id": "x", "question": "q", "lang": "en", "gold_paragraphs": [], "answers": [],
                       "answerable": False})
    path.write_text(line + "\n" + line + "\n", encoding="utf-8")
    with pytest.raises(DatasetError, match="duplicate ids"):
        load_dataset(path)
    path.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"d.jsonl:1: not JSON"):
        load_dataset(path)


def test_shipped_benchmark_is_complete():
    items = load_dataset(PROJECT_ROOT / "eval" / "benchmark")
    assert len(items) >= 200
    types = {i["type"] for i in items}
    assert {"structure", "multi_paragraph", "followup", "false_premise", "unanswerable_pending",
            "unanswerable_absent", "list_count", "number_date", "paraphrase", "cross_lingual"} <= types
    by_id = {i["id"]: i for i in items}
    for item in items:
        assert all(1 <= int(g) <= 69 for g in item["gold_paragraphs"]), item["id"]
        assert item["answerable"] == bool(item["answers"]), item["id"]
        if item["type"] == "followup":
            # A follow-up names the earlier question of the file, or carries the earlier turn itself.
            assert item["history"][0]["role"] == "user" and item["history"][0]["content"], item["id"]
            if item.get("followup_of"):
                assert by_id[item["followup_of"]]["question"] == item["history"][0]["content"]


# --------------------------------------------------------------------------- runner


class ScriptedSystem:
    """Answers from a list; a KeyboardInterrupt in the list stands for Ctrl-C at that item."""

    name = "scripted"

    def __init__(self, outcomes):
        self.outcomes = list(outcomes)

    def answer(self, item):
        outcome = self.outcomes.pop(0)
        if outcome is KeyboardInterrupt:
            raise KeyboardInterrupt
        return outcome


def test_ctrl_c_keeps_the_finished_items():
    dataset = [_item(str(i), "en", True, ["3"], ["x"]) for i in range(4)]
    system = ScriptedSystem([Outcome("x [¶3]", ["3"], False, ["3"]), Outcome("y", [], True, ["1"]),
                             KeyboardInterrupt])

    results, interrupted = run_items(system, dataset, progress=False)

    assert interrupted is True
    assert [r["id"] for r in results] == ["0", "1"]
    assert results[0]["scores"]["answer_accuracy"] == 1.0 and results[1]["abstained"] is True


# --------------------------------------------------------------------------- judge


def test_judge_statements_and_verdicts():
    assert statements("She was elected. [¶3] It was in Nairobi. [¶1][¶2] No cite here.") == [
        ("She was elected.", ["3"]), ("It was in Nairobi.", ["1", "2"]), ("No cite here.", [])]
    assert [verdict("Yes."), verdict(" no, it does not"), verdict("是"), verdict("maybe")] == [True, False, True, None]


def test_judge_over_http_computes_citation_support_and_faithfulness(fake_llm, settings):
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(base_url=fake_llm.base_url, model="judge", api_key="x", max_retries=0, timeout=10)
    judge = Judge(llm, settings.prompts_dir, "judge")
    fake_llm.reply("yes", "yes", "no", "yes")  # sentence 1: cited, faithful; sentence 2: cited, faithful
    result = {"answer": "She was elected. [¶3] It was in Geneva. [¶1]", "abstained": False, "retrieved": ["3", "1"]}

    scores = judge.item_scores(result, lambda p: f"text of {p}")

    assert scores == {"citation_support": 0.5, "faithfulness": 1.0}
    assert "[¶1] text of 1" in fake_llm.messages(2)[-1]["content"]
    assert "It was in Geneva." in fake_llm.messages(2)[-1]["content"]


# --------------------------------------------------------------------------- whole runs


TINY = [
    {"id": "t1", "question": "Who was elected President of the Assembly?", "lang": "en", "type": "fact",
     "gold_paragraphs": ["3"], "answers": ["Martha Delgado Peralta"], "answerable": True},
    {"id": "t2", "question": "人居大会第一届会议选举谁为主席？", "lang": "zh", "type": "fact",
     "gold_paragraphs": ["3"], "answers": ["Martha Delgado Peralta"], "answerable": True},
    {"id": "t3", "question": "Which United Nations bodies and specialized agencies were represented at the session?",
     "lang": "en", "type": "unanswerable_pending", "gold_paragraphs": ["26"], "answers": [], "answerable": False},
    {"id": "t4", "question": "How was she elected?", "lang": "en", "type": "followup", "followup_of": "t1",
     "history": [{"role": "user", "content": "Who was elected President of the Assembly?"},
                 {"role": "assistant", "content": "Martha Delgado Peralta [¶3]"}],
     "gold_paragraphs": ["3"], "answers": ["acclamation"], "answerable": True},
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, jieba_cache, cli, built_index):
    root = tmp_path_factory.mktemp("eval")
    dataset = root / "tiny.jsonl"
    dataset.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in TINY), encoding="utf-8")
    env = cli.env(root, jieba_cache, index_dir=built_index.index_dir, embedding_model=built_index.embedding_model)
    return root, dataset, env


def test_eval_end_to_end_writes_every_output(tiny, cli, built_index):
    from indexer.live import LiveIndex

    root, dataset, env = tiny

    run = cli.run(["eval", "--dataset", str(dataset), "--out", str(root / "a"), "--compare", "lexical,dense",
                   "--resamples", "100", "--quiet"], env)

    assert run.returncode == 0, run.stderr
    assert re.search(r"^lexical: 4 questions, 0 errors; hit@5 1\.000, answer accuracy 1\.000, abstention recall "
                     r"1\.000, false abstention 0\.000, CRAG 1\.000, citations not retrieved 0\.000$", run.stdout, re.M)
    assert re.search(r"^dense: skipped \(dense retrieval is off: .*\)$", run.stdout, re.M)
    results = json.loads((root / "a" / "results.json").read_text(encoding="utf-8"))
    assert [i["id"] for i in results["items"]] == ["t1", "t2", "t3", "t4"]
    for item in results["items"]:
        assert {"id", "retrieved", "answer", "citations", "abstained", "latency_ms"} <= set(item)
    assert results["summary"]["overall"]["hit@5"] == 1.0 and results["summary"]["en"]["questions"] == 3
    assert results["items"][3]["abstained"] is False and "acclamation" in results["items"][3]["answer"]
    run_info = results["run"]
    assert run_info["dataset"]["sha256"] and run_info["settings_hash"] and run_info["index_manifest"]["build_id"]
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?", run_info["git_revision"])
    assert run_info["judge"].startswith("not computed: no judge LLM configured")
    assert set(results["skipped"]) == {"dense"} and set(results["configurations"]) == {"lexical"}
    assert results["tradeoff"][0]["answer_threshold"] == 0.0 and len(results["tradeoff"]) == 10
    per_item = [json.loads(line) for line in (root / "a" / "per_item.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [p["id"] for p in per_item] == ["t1", "t2", "t3", "t4"]
    assert per_item[0]["user_input"] == TINY[0]["question"] and per_item[0]["retrieved_context_ids"][0] == "3"
    # ragas' SingleTurnSample fields: contexts are paragraph texts in the answer language, in rank order.
    corpus = LiveIndex.open(built_index.index_dir).corpus
    for row in per_item:
        lang = row["answer_lang"]
        assert row["retrieved_contexts"] == [corpus.get(corpus.resolve(p), lang).text for p in row["retrieved"]]
        assert row["response"] == row["answer"]
    assert "Martha Delgado Peralta" in per_item[0]["retrieved_contexts"][0]
    assert per_item[1]["reference_contexts"] == [corpus.get(corpus.resolve("3"), "zh").text]
    assert per_item[2]["reference_contexts"] == [] and per_item[2]["reference"].startswith("The record does not")
    summary_md = (root / "a" / "summary.md").read_text(encoding="utf-8")
    assert "| hit@5 | 1.000 [1.000, 1.000] |" in summary_md
    report = (root / "a" / "report.html").read_text(encoding="utf-8")
    assert report.count("<svg") == 6 and "Recall@k per configuration" in report
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", report), "the report must not load anything"
    assert "<script" not in report


def test_eval_diff_lists_metric_changes_and_flipped_questions(tiny, cli):
    root, dataset, env = tiny
    # The same fitted models with an answer threshold no answer reaches: every answer flips.
    strict = json.loads((PROJECT_ROOT / "qa" / "answer_model.json").read_text(encoding="utf-8"))
    for fit in strict["fits"].values():
        fit["answer_threshold"] = fit["indirect_threshold"] = 1.0
    (root / "strict.json").write_text(json.dumps(strict), encoding="utf-8")
    for name, model in (("d1", PROJECT_ROOT / "qa" / "answer_model.json"), ("d2", root / "strict.json")):
        run = cli.run(["eval", "--dataset", str(dataset), "--out", str(root / name), "--resamples", "50", "--quiet",
                       "--no-sweep"], {**env, "RECORDQA_ANSWER_MODEL": str(model),
                                       "RECORDQA_RETRIEVAL_MODE": "lexical"})
        assert run.returncode == 0, run.stderr

    diff = cli.run(["eval", "diff", str(root / "d1"), str(root / "d2")], env)

    assert diff.returncode == 0, diff.stderr
    flipped = re.findall(r"^  (t\d): right -> (?:abstained|wrong)  (.+)$", diff.stdout, re.M)
    assert flipped and all(question == next(i["question"] for i in TINY if i["id"] == id_) for id_, question in flipped)
    assert f"{len(flipped)} question(s) flipped:" in diff.stdout
    assert re.search(r"^overall\s+answer accuracy\s+1\.000\s+0\.000\s+-1\.000$", diff.stdout, re.M)
    a = json.loads((root / "d1" / "results.json").read_text(encoding="utf-8"))
    assert diff_results(a, a)["flips"] == [] and "no metric changed" in format_diff(diff_results(a, a))


def test_eval_against_the_real_server_over_http(tiny, cli, server):
    root, dataset, env = tiny

    run = cli.run(["eval", "--dataset", str(dataset), "--out", str(root / "http"), "--endpoint", server.url,
                   "--stream", "--resamples", "50", "--quiet"], env)

    assert run.returncode == 0, run.stderr
    results = json.loads((root / "http" / "results.json").read_text(encoding="utf-8"))
    items = results["items"]
    assert items[0]["retrieved"][0] == "3" and items[0]["citations"] == ["3"]
    assert items[2]["abstained"] is True
    assert all(0 < i["ttft_ms"] <= i["total_ms"] for i in items)
    assert results["summary"]["overall"]["latency_ms_ttft"]["p50"] > 0
    assert results["run"]["models"] == {"endpoint": server.url}


def test_eval_of_an_endpoint_that_is_down_reports_errors_not_a_crash(tiny, cli):
    root, dataset, env = tiny

    run = cli.run(["eval", "--dataset", str(dataset), "--out", str(root / "down"), "--endpoint",
                   "http://127.0.0.1:9", "--resamples", "20", "--quiet", "--retries", "1"], env)

    assert run.returncode == 1, run.stderr
    assert re.search(r"^endpoint http://127\.0\.0\.1:9: 4 questions, 4 errors \(not scored\); hit@5 –, "
                     r"answer accuracy –", run.stdout, re.M), run.stdout
    assert re.search(r"^error: endpoint http://127\.0\.0\.1:9: 4 of 4 questions got no answer \(not scored\); "
                     r"first: t1: ConnectError: .+; gave up after 2 attempts, 0\.5 s waited$", run.stderr, re.M)
    results = json.loads((root / "down" / "results.json").read_text(encoding="utf-8"))
    assert all(i["error"].startswith("ConnectError") for i in results["items"])
    # Three questions in a row without a reply: the deployment is down, the fourth is tried once.
    assert [i["attempts"] for i in results["items"]] == [2, 2, 2, 1]
    assert results["items"][3]["error"].endswith("(not retried: the 3 questions before got no reply either)")
    assert results["errors"] == 4 and results["summary"]["overall"]["questions"] == 0


def test_export_beir_layout(tiny, cli, built_index):
    root, dataset, env = tiny

    run = cli.run(["eval", "export-beir", str(root / "beir"), "--dataset", str(dataset)], env)

    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == f"wrote {root / 'beir'}: 69 documents, 4 queries, 3 qrels"
    corpus = [json.loads(line) for line in (root / "beir" / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    doc3 = next(d for d in corpus if d["_id"] == "3")
    assert "Martha Delgado Peralta" in doc3["metadata"]["text_zh"] and "by acclamation" in doc3["metadata"]["text_en"]
    assert (root / "beir" / "qrels" / "test.tsv").read_text().splitlines() == [
        "query-id\tcorpus-id\tscore", "t1\t3\t1", "t2\t3\t1", "t4\t3\t1"]


def test_export_beir_counts_by_hand(tmp_path, built_index):
    from indexer.live import LiveIndex

    counts = export_beir(TINY[:1], LiveIndex.open(built_index.index_dir).corpus, tmp_path)

    assert counts == {"documents": 69, "queries": 1, "qrels": 1}


def test_unknown_configuration_is_a_usage_error(tiny, cli):
    root, dataset, env = tiny

    run = cli.run(["eval", "--dataset", str(dataset), "--out", str(root / "x"), "--compare", "lexical,bm42"], env)

    assert run.returncode == 2
    assert run.stderr.strip().endswith("error: unknown configuration bm42; choose from lexical, dense, hybrid, "
                                       "hybrid+rerank")


def test_an_unreachable_judge_leaves_the_judge_metrics_not_computed(tiny, cli):
    import socket

    root, dataset, env = tiny
    with socket.socket() as sock:  # a port that was just free, so nothing listens on it
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**env, "RECORDQA_JUDGE_BASE_URL": f"http://127.0.0.1:{port}/v1", "RECORDQA_JUDGE_MODEL": "judge",
           "RECORDQA_RETRIEVAL_MODE": "lexical"}

    run = cli.run(["eval", "--dataset", str(dataset), "--out", str(root / "judged"), "--resamples", "20", "--quiet",
                   "--no-sweep"], env)

    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr
    notes = [line for line in run.stderr.splitlines() if line.startswith("note: judge unreachable")]
    assert len(notes) == 1 and "judge metrics not computed" in notes[0], run.stderr
    assert re.search(r"^lexical: 4 questions, 0 errors; hit@5 1\.000", run.stdout, re.M)
    results = json.loads((root / "judged" / "results.json").read_text(encoding="utf-8"))
    assert results["run"]["judge"] == "not computed: judge unreachable"
    assert "judge" not in results["summary"]["overall"] and not any(i.get("judge") for i in results["items"])
    line = "Citation support (ALCE) / faithfulness (RAGAS): not computed: judge unreachable"
    assert line in (root / "judged" / "summary.md").read_text(encoding="utf-8")
    assert line in (root / "judged" / "report.html").read_text(encoding="utf-8")


def test_compare_puts_the_shipped_configuration_at_the_top_level(tmp_path, jieba_cache, cli, dense_settings):
    dataset = tmp_path / "tiny.jsonl"
    dataset.write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in TINY), encoding="utf-8")
    env = cli.env(tmp_path, jieba_cache, embedding_model=dense_settings.embedding_model,
                  window_overlap_tokens=dense_settings.window_overlap_tokens, retrieval_mode="hybrid")
    common = ["--dataset", str(dataset), "--resamples", "20", "--quiet", "--no-sweep"]

    # hybrid is what the settings ship, listed second.
    compared = cli.run(["eval", *common, "--out", str(tmp_path / "both"), "--compare", "lexical,hybrid"], env)
    alone = cli.run(["eval", *common, "--out", str(tmp_path / "hybrid")], env)

    assert compared.returncode == 0, compared.stderr
    assert alone.returncode == 0, alone.stderr
    results = json.loads((tmp_path / "both" / "results.json").read_text(encoding="utf-8"))
    assert results["configuration"] == "hybrid" and list(results["configurations"]) == ["hybrid", "lexical"]
    lines = (tmp_path / "both" / "per_item.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    hybrid = [r["retrieved"] for r in rows if r["configuration"] == "hybrid"]
    lexical = [r["retrieved"] for r in rows if r["configuration"] == "lexical"]
    assert hybrid != lexical, "the tiny dense model must change the ranking for this test to tell them apart"
    assert [i["retrieved"] for i in results["items"]] == hybrid
    assert results["summary"]["overall"] == results["configurations"]["hybrid"]["summary"]["overall"]
    assert "<h2>Worst failures (hybrid)</h2>" in (tmp_path / "both" / "report.html").read_text(encoding="utf-8")

    diff = cli.run(["eval", "diff", str(tmp_path / "both"), str(tmp_path / "hybrid")], env)

    assert diff.returncode == 0, diff.stderr
    assert diff.stdout.splitlines()[0].endswith(", configuration hybrid")
    assert "no metric changed" in diff.stdout and "0 question(s) flipped:" in diff.stdout
