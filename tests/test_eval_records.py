"""Question sets written on records whose paragraph ids are not known in advance: gold given as
evidence passages, found in the built index, and figures reported per record.

The records here are small synthetic ones in tmp folders; what is tested is the harness (finding
the evidence, reporting what is missing, grouping by record), not the answerer's quality.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from eval.evidence import resolve_evidence
from eval.report import markdown_summary, record_lines
from eval.run import assemble, configuration_result, result_item
from eval.systems import Outcome
from indexer.corpus import load_corpus
from recordqa.settings import PROJECT_ROOT

RECORDS = {
    "alpha": {
        "en": ["1. The Committee elected Ms. Amina Diallo as its Chair for the fortieth session.",
               "2. The Committee adopted its agenda without a vote and approved the programme of work.",
               "3. The Secretary reported that the budget for the session was 4.2 million dollars."],
        "zh": ["1. 委员会选举阿米娜·迪亚洛女士为第四十届会议主席。",
               "2. 委员会未经表决通过了议程，并核准了工作方案。",
               "3. 秘书报告说，本届会议的预算为420万美元。"],
    },
    "beta": {
        "en": ["1. The Board met in Geneva from 3 to 5 May to review the water programme.",
               "2. The Board noted that 12 wells had been drilled in the northern province.",
               "3. The Board adopted its agenda without a vote."],
        "zh": ["1. 理事会于5月3日至5日在日内瓦举行会议，审查供水方案。",
               "2. 理事会注意到，在北部省份打了12口井。",
               "3. 理事会未经表决通过了议程。"],
    },
}


def write_records(folder: Path) -> Path:
    for record, versions in RECORDS.items():
        (folder / record).mkdir(parents=True)
        for lang, lines in versions.items():
            (folder / record / f"{lang}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder


def question(qid: str, lang: str, evidence: list[str], record: str | None = None, **extra) -> dict:
    item = {"id": qid, "question": "?", "lang": lang, "answers": ["x"], "answerable": True,
            "gold_evidence": evidence, **extra}
    return {**item, "record": record} if record else item


@pytest.fixture
def corpus(tmp_path):
    return load_corpus([write_records(tmp_path / "records")])


def test_evidence_becomes_the_ids_of_the_paragraphs_that_hold_it(corpus):
    dataset = [
        question("a1", "en", ["elected Ms. Amina  Diallo\nas its Chair"], "alpha"),  # spacing differs from the record
        question("a2", "zh", ["本届会议的预算为420万美元"], "alpha"),
        # The passage is in both records: the question's record decides.
        question("b3", "en", ["adopted its agenda without a vote"], "beta"),
        # Without a record every paragraph that holds the passage is gold.
        question("any", "en", ["adopted its agenda without a vote"]),
        question("two", "en", ["Amina Diallo", "12 wells had been drilled"]),
        {"id": "plain", "question": "?", "lang": "en", "answers": [], "answerable": False, "gold_paragraphs": []},
    ]

    resolved, errors, warnings = resolve_evidence(dataset, corpus.paragraphs())

    gold = {item["id"]: item["gold_paragraphs"] for item in resolved}
    assert gold == {"a1": ["alpha:1"], "a2": ["alpha:3"], "b3": ["beta:3"], "any": ["alpha:2", "beta:3"],
                    "two": ["alpha:1", "beta:2"], "plain": []}
    assert errors == [] and warnings == []


def test_evidence_found_nowhere_is_a_dataset_error_not_a_dropped_question(corpus):
    dataset = [
        question("paris", "en", ["The Board met in Paris"], "beta"),
        # English evidence for a Chinese question: looked up in the zh paragraphs only.
        question("wrong-lang", "zh", ["The Board met in Geneva"], "beta"),
        question("half", "en", ["12 wells had been drilled", "35 wells"], "beta"),
        question("gamma", "en", ["The Board met in Geneva"], "gamma"),
    ]

    resolved, errors, _ = resolve_evidence(dataset, corpus.paragraphs())

    assert [item["id"] for item in resolved] == ["paris", "wrong-lang", "half", "gamma"]
    assert [e.describe() for e in errors] == [
        "paris: evidence not found in any en paragraph: 'The Board met in Paris'",
        "wrong-lang: evidence not found in any zh paragraph: 'The Board met in Geneva'",
        "half: evidence not found in any en paragraph: '35 wells'",
        "gamma: the index holds no record of that name: 'gamma'",
    ]
    assert resolved[2]["gold_paragraphs"] == ["beta:2"]  # what was found still counts


def test_record_named_by_its_folder_and_a_numbering_the_parser_did_not_keep(corpus):
    dataset = [question("q", "en", ["12 wells had been drilled"], "water-board", gold_paragraphs=["7"]),
               question("ok", "en", ["Amina Diallo"], "alpha", gold_paragraphs=["1"])]

    resolved, errors, warnings = resolve_evidence(dataset, corpus.paragraphs(), record_names={"water-board": "beta"})

    assert errors == [] and resolved[0]["gold_paragraphs"] == ["beta:2"]
    assert [w.describe() for w in warnings] == ["q: the evidence is in beta:2, the dataset names: '7'"]


def test_one_record_indexed_gives_plain_paragraph_numbers(tmp_path):
    write_records(tmp_path / "records")
    corpus = load_corpus([tmp_path / "records" / "alpha"])

    resolved, errors, _ = resolve_evidence([question("a", "en", ["Amina Diallo"], "alpha")], corpus.paragraphs())

    assert errors == [] and resolved[0]["gold_paragraphs"] == ["1"]


def _result(qid: str, record: str, *, answerable: bool, answer: str = "", cited: list[str] | None = None,
            retrieved: list[str] | None = None) -> dict:
    item = {"id": qid, "question": "?", "lang": "en", "type": "fact", "record": record, "answerable": answerable,
            "answers": ["Geneva"] if answerable else [], "gold_paragraphs": ["beta:1"] if answerable else []}
    abstained = not answer
    return result_item(item, Outcome(answer, cited or [], abstained, retrieved or [], {"total": 1.0}))


def test_the_report_gives_each_record_its_figures():
    items = [
        # alpha: one right answer citing a retrieved paragraph, one answerable that abstained, one
        # unanswerable that abstained.
        _result("a1", "alpha", answerable=True, answer="In Geneva [¶beta:1]", cited=["beta:1"], retrieved=["beta:1"]),
        _result("a2", "alpha", answerable=True, retrieved=["alpha:2"]),
        _result("a3", "alpha", answerable=False, retrieved=["alpha:3"]),
        # beta: a wrong answer citing a paragraph that was not retrieved, and an unanswerable answered.
        _result("b1", "beta", answerable=True, answer="In Paris [¶beta:3]", cited=["beta:3"], retrieved=["beta:2"]),
        _result("b2", "beta", answerable=False, answer="In Paris [¶beta:3]", cited=["beta:3"], retrieved=["beta:3"]),
    ]
    config = configuration_result("lexical", items, False, elapsed_s=1.0, resamples=10)
    results = assemble([config], {}, {"dataset": {"path": "records"}}, len(items))
    results["dataset_errors"] = ["b9: evidence not found in any en paragraph: 'Paris'"]

    by_record = results["summary"]["by_record"]
    assert set(by_record) == {"alpha", "beta"}
    assert (by_record["alpha"]["answer_accuracy"], by_record["alpha"]["abstention_recall"],
            by_record["alpha"]["false_abstention_rate"], by_record["alpha"]["hit@5"]) == (0.5, 1.0, 0.5, 0.5)
    assert (by_record["beta"]["answer_accuracy"], by_record["beta"]["abstention_recall"],
            by_record["beta"]["hit@5"], by_record["beta"]["citations_not_retrieved"]) == (0.0, 0.0, 0.0, 0.5)
    summary = markdown_summary(results)
    assert "| alpha | 3 | 2 | 0.500 | 1.000 | 0.500 | 0.500 | 1.000 | 0.667 |" in summary
    assert "| beta | 2 | 1 | 0.000 | 0.000 | 0.000 | 0.000 | 0.500 | -1.000 |" in summary
    assert "- dataset error: b9: evidence not found in any en paragraph: 'Paris'" in summary
    assert record_lines(results["summary"])[0] == (
        "  alpha: 3 questions (2 answerable); accuracy 0.500, abstained on unanswerable 1.000, answerable that "
        "abstained 0.500, hit@5 0.500, citations retrieved 1.000")


def test_a_dataset_without_records_has_no_record_section():
    config = configuration_result("lexical", [_result("a1", "", answerable=False)], False, elapsed_s=1.0,
                                  resamples=10)
    results = assemble([config], {}, {}, 1)

    assert "by_record" not in results["summary"] and "## By record" not in markdown_summary(results)


def test_eval_of_a_records_folder_reports_per_record_and_the_missing_evidence(tmp_path, jieba_cache, cli):
    records = write_records(tmp_path / "records")
    dataset = tmp_path / "questions"
    dataset.mkdir()
    lines = {
        "alpha.jsonl": [
            {"id": "a1", "question": "Who was elected Chair of the Committee?", "lang": "en", "type": "fact",
             "answers": ["Amina Diallo"], "answerable": True, "gold_evidence": ["elected Ms. Amina Diallo"],
             "record": "alpha"},
            {"id": "a2", "question": "本届会议的预算是多少？", "lang": "zh", "type": "number_date",
             "answers": ["420万美元"], "answerable": True, "gold_evidence": ["本届会议的预算为420万美元"],
             "record": "alpha"},
        ],
        "beta.jsonl": [
            {"id": "b1", "question": "How many wells had been drilled in the northern province?", "lang": "en",
             "type": "number_date", "answers": ["12 wells"], "answerable": True,
             "gold_evidence": ["12 wells had been drilled"], "record": "beta"},
            {"id": "b2", "question": "Where did the Board meet?", "lang": "en", "type": "fact", "answers": ["Geneva"],
             "answerable": True, "gold_evidence": ["The Board met in Paris"], "record": "beta"},
        ],
    }
    for name, items in lines.items():
        (dataset / name).write_text("".join(json.dumps(i, ensure_ascii=False) + "\n" for i in items),
                                    encoding="utf-8")
    env = cli.env(tmp_path, jieba_cache, records_dir=records, retrieval_mode="lexical")

    run = cli.run(["eval", "--dataset", str(dataset), "--out", str(tmp_path / "out"), "--no-sweep", "--quiet",
                   "--resamples", "20"], env)

    # The missing passage fails the run (exit 1) after every output is written.
    assert run.returncode == 1, run.stderr
    assert "dataset error: b2: evidence not found in any en paragraph: 'The Board met in Paris'" in run.stderr
    assert re.search(r"^  alpha: 2 questions \(2 answerable\); accuracy \S+, .* hit@5 1\.000, citations retrieved "
                     r"1\.000$", run.stdout, re.M), run.stdout
    assert re.search(r"^  beta: 2 questions \(2 answerable\);", run.stdout, re.M)
    results = json.loads((tmp_path / "out" / "results.json").read_text(encoding="utf-8"))
    gold = {item["id"]: item["gold_paragraphs"] for item in results["items"]}
    assert gold == {"a1": ["alpha:1"], "a2": ["alpha:3"], "b1": ["beta:2"], "b2": []}
    assert results["dataset_errors"] == ["b2: evidence not found in any en paragraph: 'The Board met in Paris'"]
    assert {i["id"]: i["record"] for i in results["items"]} == {"a1": "alpha", "a2": "alpha", "b1": "beta",
                                                                "b2": "beta"}
    summary = (tmp_path / "out" / "summary.md").read_text(encoding="utf-8")
    assert "## By record" in summary and re.search(r"^\| alpha \| 2 \| 2 \| ", summary, re.M)


SHARED_RECORDS = PROJECT_ROOT.parent / "shared" / "records"


@pytest.mark.skipif(not SHARED_RECORDS.is_dir(), reason="the shared records are not beside the checkout")
def test_the_shipped_record_questions_quote_their_records_verbatim():
    """Every gold passage of eval/benchmark/records/ is copied from its record in the question's
    language, and answerable questions have at least one."""
    folder = PROJECT_ROOT / "eval" / "benchmark" / "records"
    files = sorted(folder.glob("*.jsonl"))
    assert [f.stem for f in files] == sorted(p.name for p in SHARED_RECORDS.iterdir() if p.is_dir())
    for file in files:
        items = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
        assert len(items) >= 20 and {i["lang"] for i in items} == {"zh", "en"}
        for item in items:
            assert item["record"] == file.stem
            text = (SHARED_RECORDS / item["record"] / f"{item['lang']}.txt").read_text(encoding="utf-8")
            assert bool(item["gold_evidence"]) == item["answerable"], item["id"]
            for passage in item["gold_evidence"]:
                assert passage in text, (item["id"], passage)
