"""The `recordqa` command. Reads settings once and hands them to the factories.

Exit codes: 0 success, 1 failure (no index, broken record, model trouble), 2 bad usage or input.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from recordqa.settings import PROJECT_ROOT, Settings, unknown_environment_settings

DEFAULT_BENCHMARK = PROJECT_ROOT / "eval" / "benchmark"


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    unknown = unknown_environment_settings(os.environ)
    if unknown:
        print(f"error: unknown setting {', '.join(unknown)} (see `recordqa doctor` or recordqa/settings.py)",
              file=sys.stderr)
        return 2
    try:
        settings = Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        message = str(error.get("ctx", {}).get("error", ""))
        if error["type"] == "value_error" and error["loc"] and message.startswith("must "):
            print(f"error: RECORDQA_{str(error['loc'][0]).upper()} {message}", file=sys.stderr)
        else:
            print(f"error: invalid RECORDQA_ setting: {error['loc']}: {error['msg']}", file=sys.stderr)
        return 2
    if getattr(args, "index_dir", None):
        settings = settings.model_copy(update={"index_dir": args.index_dir})
    if not getattr(args, "defer_models", False):
        _prepare_environment(args, settings)
    from indexer.build import BuildFailed, IndexDamaged, IndexReadOnly
    from indexer.embedder import EmbedderUnavailable
    from indexer.live import IndexMissing
    from indexer.record import RecordError
    from indexer.store import VectorStoreUnavailable
    from qa.answer import QuestionError
    from qa.answer_model import AnswerModelError
    from qa.language_pack import PackError
    from qa.prompt import PromptError

    try:
        return args.func(args, settings)
    # RecordError and PromptError are ValueErrors but are failures of the installation, not bad input.
    except (RecordError, PromptError, IndexMissing, EmbedderUnavailable, AnswerModelError, PackError,
            IndexDamaged, IndexReadOnly, BuildFailed, VectorStoreUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        # A file the installation needs cannot be read or written (permissions, a full disk): a failure.
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except (QuestionError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _prepare_environment(args, settings: Settings) -> None:
    """Process-wide switches for the model libraries, set before the first of them is imported.
    Commands that load no model (show, export, feedback) never call this, and so never import the
    model stack; ask calls it once the question passed its checks."""
    if not getattr(args, "progress_bars", False):
        # Loading and encoding bars are noise on an ordinary command; index and eval keep theirs.
        for name, value in (("HF_HUB_DISABLE_PROGRESS_BARS", "1"), ("TRANSFORMERS_VERBOSITY", "error"),
                            ("TQDM_DISABLE", "1")):
            os.environ.setdefault(name, value)
    from recordqa.factories import configure_environment

    configure_environment(settings)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("recordqa")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recordqa", description="Cited answers from UN meeting records.")
    parser.add_argument("--version", action="version", version=f"recordqa {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, func, help_: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.add_argument("--index-dir", type=Path, help="index folder (default: RECORDQA_INDEX_DIR)")
        p.set_defaults(func=func)
        return p

    p = command("index", cmd_index, "Index record files (default: the shipped record).")
    p.add_argument("files", nargs="*", type=Path, help="record files or folders")
    p.add_argument("--force", action="store_true", help="rebuild even if the index is current")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(progress_bars=True)

    p = command("ask", cmd_ask, "Answer one question with citations.")
    p.add_argument("question")
    p.add_argument("--record", action="append", metavar="ID",
                   help="search only this record (repeatable; default: every record; see `recordqa records`)")
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument("--lang", choices=["zh", "en"], help="answer language (default: the question's)")
    p.add_argument("--explain", action="store_true",
                   help="also show the question's analysis and the features behind the decision")
    p.set_defaults(defer_models=True)

    p = command("show", cmd_show, "Print one paragraph in every language.")
    p.add_argument("paragraph", help="paragraph number, e.g. 45 (or RECORD:45)")
    p.set_defaults(defer_models=True)

    p = command("export", cmd_export, "Print the indexed paragraphs.")
    p.add_argument("--format", choices=["jsonl"], default="jsonl")
    p.set_defaults(defer_models=True)

    p = sub.add_parser("feedback", help="Work with the chat's and the API's answer feedback.",
                       description="Work with the chat's and the API's answer feedback (RECORDQA_FEEDBACK_PATH).")
    p.set_defaults(func=cmd_feedback, defer_models=True)
    feedback_sub = p.add_subparsers(dest="feedback_command", required=True)
    f = feedback_sub.add_parser("export", help="write the feedback as benchmark JSON lines (eval/README.md), "
                                "for evaluators to turn complaints into test questions")
    f.add_argument("--out", type=Path, help="file to write (default: standard output)")

    command("doctor", cmd_doctor, "Show what is installed, configured and active.")
    p = command("chat", cmd_chat, "Interactive chat in the terminal.")
    p.add_argument("--record", action="append", metavar="ID",
                   help="search only this record (repeatable; default: every record)")

    p = command("records", cmd_records, "List the indexed records (no model is loaded).")
    p.add_argument("--json", action="store_true", help="print the records as JSON")
    p.set_defaults(defer_models=True)

    p = command("serve", cmd_serve, "Serve the web chat, the widget and the HTTP API.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860; 0 picks a free one)")

    p = command("eval", cmd_eval, "Run a QA benchmark and write results.json, per_item.jsonl, summary.md, "
                "report.html (subcommands: diff, export-beir).")
    p.add_argument("--dataset", type=Path, default=DEFAULT_BENCHMARK,
                   help="JSON-lines file or folder of them (default: the shipped benchmark)")
    p.add_argument("--out", type=Path, default=Path("out/eval"), help="output folder (default: %(default)s)")
    p.add_argument("--compare", help="configurations side by side, e.g. lexical,dense,hybrid,hybrid+rerank")
    p.add_argument("--endpoint", help="evaluate a deployed RecordQA (or OpenAI-compatible) URL over HTTP")
    p.add_argument("--api-key", help="API key for --endpoint")
    p.add_argument("--stream", action="store_true",
                   help="with --endpoint: ask the streaming endpoint and measure time to first token")
    p.add_argument("--retries", type=int,
                   help="with --endpoint: retries of a question after 429/503, a dropped connection or a timeout "
                        "(default 4)")
    p.add_argument("--retry-budget", type=float,
                   help="with --endpoint: most seconds spent waiting to retry one question (default 60)")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples for the 95%% intervals")
    p.add_argument("--no-sweep", action="store_true", help="skip the abstention trade-off sweep")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    eval_sub = p.add_subparsers(dest="eval_command")
    d = eval_sub.add_parser("diff", help="compare two results.json: metric changes and flipped questions")
    d.add_argument("a", type=Path)
    d.add_argument("b", type=Path)
    d.add_argument("--json", action="store_true", help="print the diff as JSON")
    f = eval_sub.add_parser("fit", help="fit the sentence-selection and answerability models on the fit split, "
                            "print cross-validated figures, write qa/answer_model.json")
    f.add_argument("--out", dest="fit_out", type=Path, help="model file (default: RECORDQA_ANSWER_MODEL)")
    f.add_argument("--records", dest="fit_records", type=Path,
                   help="the shared records folder: also fit on eval/benchmark/records_fit/, asked of an index of "
                        "these records beside RECORDQA_INDEX_DIR (`make fit` passes ../shared/records)")
    b = eval_sub.add_parser("export-beir", help="write the record and dataset in the BEIR layout")
    b.add_argument("dir", type=Path)
    b.add_argument("--dataset", dest="beir_dataset", type=Path, help="dataset (default: the shipped benchmark)")
    return parser


def _note(text: str) -> None:
    print(f"note: {text}", file=sys.stderr)


def _index_notices(index) -> list[str]:
    from recordqa.factories import index_notices

    return index_notices(index)


def cmd_index(args, settings: Settings) -> int:
    from recordqa.factories import ensure_index, make_corpus, make_embedders

    # Without paths, RECORDQA_RECORDS_DIR (not the paths an earlier `index PATH...` gave).
    paths = args.files or [settings.records_dir]
    # Read (not aligned): the build aligns unnumbered language versions with the embedder, if it is due.
    corpus = make_corpus(settings, paths, align=False)
    for record in corpus.records:
        for warning in record.warnings:
            _note(warning)
    embedders, dense = make_embedders(settings)
    if not dense.active or dense.reason:
        _note(dense.describe())
    summary = ensure_index(settings, corpus=corpus, embedders=embedders, dense=dense, force=args.force,
                           progress=not args.quiet, log=_note, record_paths=paths)
    print(summary.describe())
    return 0


def _answerer(settings: Settings, *, log_build: bool = True):
    """Open the index, building it first when it is missing or stale. When it cannot be rebuilt
    (a broken record, a read-only folder, a full disk) an intact build still answers, with a notice."""
    from indexer.build import BuildFailed, IndexReadOnly, inspect_index
    from indexer.live import LiveIndex
    from indexer.record import RecordError
    from recordqa.factories import ensure_index, make_answerer, make_embedders, make_tokenizer

    tokenizer = make_tokenizer(settings)
    embedders, dense = make_embedders(settings) if settings.retrieval_mode != "lexical" else ([], None)
    not_rebuilt = None
    try:
        summary = ensure_index(settings, tokenizer=tokenizer, embedders=embedders if dense else None, dense=dense,
                               repair=False, progress=False, log=_note if log_build else (lambda _: None))
        if not summary.up_to_date and log_build:
            _note(summary.describe())
    except RecordError as exc:
        # A broken record file must not take answers away: the live build still answers.
        if inspect_index(settings.index_dir).answerable is None:
            raise
        not_rebuilt = f"answering from the previous index: {exc}"
    except IndexReadOnly as exc:
        if inspect_index(settings.index_dir).answerable is None:
            raise
        not_rebuilt = f"{exc}; answering from build {{build}}"
    except BuildFailed as exc:
        if inspect_index(settings.index_dir).answerable is None:
            raise
        not_rebuilt = f"the stale index could not be rebuilt: {exc}; answering from build {{build}}"
    index = LiveIndex.open(settings.index_dir, chroma_url=settings.chroma_url)
    if not_rebuilt:
        index.notices.insert(0, not_rebuilt.replace("{build}", index.folder.name))
    return make_answerer(settings, index=index, tokenizer=tokenizer, embedders=embedders, dense=dense,
                         notices=_index_notices(index))


def _require_vector_server(index) -> None:
    """A command fails in one line when the build's Chroma server does not answer (the web app
    answers lexically instead, with a notice)."""
    from indexer.store import ChromaServerStore, VectorStoreUnavailable

    if isinstance(index.store, ChromaServerStore):
        problem = index.store.problem()
        if problem:
            raise VectorStoreUnavailable(problem)


def cmd_ask(args, settings: Settings) -> int:
    from qa.pipeline import clean_question

    # An empty or over-long question is refused before any model or index is loaded.
    clean_question(args.question, settings.max_question_chars)
    if args.record:
        _check_records(settings, args.record)
    _prepare_environment(args, settings)
    answerer = _answerer(settings)
    _require_vector_server(answerer.index)
    answer = answerer.ask(args.question, lang=args.lang, explain=args.explain, records=args.record)
    for notice in answer.notices:
        _note(notice)
    if args.json:
        print(json.dumps(answer.public_json(), ensure_ascii=False, indent=2))
        return 0
    print(_shown(answerer, answer.answer))
    quotes = _citation_lines(answer) if answer.outcome == "answer" else []
    if quotes:
        print()
        print("\n".join(quotes))
    if args.explain and answer.explain:
        print()
        print(json.dumps(answer.explain, ensure_ascii=False, indent=2))
    return 0


def _citation_lines(answer, indent: str = "") -> list[str]:
    """'[¶N] quote' for each citation whose quote the answer text does not already show: an
    extractive answer is often the quoted sentence itself, which need not be printed twice."""
    shown = " ".join(answer.answer.split())
    return [f"{indent}[{c.label or '¶' + c.paragraph}] {c.quote}" for c in answer.citations
            if " ".join(c.quote.split()) not in shown]


def _shown(answerer, text: str) -> str:
    """Answer text as printed: with several records, markers name the record by its symbol."""
    from qa.citation_labels import shown_markers

    return shown_markers(text, {rid: info.name for rid, info in answerer.records.items()})


def _open_records(settings: Settings, *, quiet: bool = False):
    """The indexed records without the search structures (no model, no vector store)."""
    from indexer.indexed_records import open_indexed_records

    records = open_indexed_records(settings.index_dir)
    if not quiet:
        for notice in _index_notices(records):
            _note(notice)
    return records


def _check_records(settings: Settings, chosen: list[str]) -> None:
    """An unknown record is bad input (exit 2): refused from the built index's record list before
    any model loads. Without a build yet the answerer checks once it has built one."""
    from indexer.live import IndexMissing
    from recordqa.factories import collection_paths

    try:
        records = _open_records(settings, quiet=True)
    except IndexMissing:
        return
    # A record folder added since the build is indexed by the answerer before it answers.
    added = {p.name for folder in collection_paths(settings) if folder.is_dir() for p in folder.iterdir() if p.is_dir()}
    records.check([record for record in chosen if record not in added])


def cmd_records(args, settings: Settings) -> int:
    from indexer.catalogue import catalogue

    listed = catalogue(_open_records(settings).corpus)
    if args.json:
        print(json.dumps([info.as_json() for info in listed], ensure_ascii=False, indent=2))
        return 0
    rows = [("id", "symbol", "languages", "paragraphs", "numbering", "title")]
    rows += [(i.id, i.symbol or "-", ",".join(i.languages), str(i.paragraphs), i.numbering, i.title or "-")
             for i in listed]
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    return 0


def _open_index(settings: Settings):
    from indexer.live import LiveIndex

    index = LiveIndex.open(settings.index_dir, chroma_url=settings.chroma_url)
    for notice in _index_notices(index):
        _note(notice)
    return index


def cmd_show(args, settings: Settings) -> int:
    from ui.labels import label

    index = _open_records(settings)
    key = index.corpus.resolve(args.paragraph)
    if key is None:
        # A record that lost its numbering is numbered p1, p2, ...: '12' is never its paragraph p12.
        record, _, number = args.paragraph.rpartition(":")
        generated = f"{record}:p{number}" if record else f"p{number}"
        hint = f"; paragraphs RecordQA numbered itself are p1, p2, ...: did you mean {generated}?" \
            if number.isdigit() and index.corpus.resolve(generated) else ""
        holders = [] if record else [r for r in index.corpus.record_ids
                                     if f"{r}:{number}" in index.corpus.keys()]  # noqa: SIM118 - ours
        if len(holders) > 1:  # 'p3' is in several records: the key names one
            hint = f"; {number} is in {len(holders)} records: name one, e.g. {holders[0]}:{number}"
        print(f"error: no paragraph '{args.paragraph}' in the index "
              f"(records: {', '.join(index.corpus.record_ids)}){hint}", file=sys.stderr)
        return 2
    for lang in index.corpus.languages:
        paragraph = index.corpus.get(key, lang)
        if paragraph is None:
            continue
        # Each language's line in its own words: its heading, 'agenda item' and flags.
        flags = [label(lang, f"flag_{name}") for name in ("pending", "missing_annex", "placeholder")
                 if getattr(paragraph, name)]
        item = label(lang, "show_agenda_item", item=paragraph.agenda_item) if paragraph.agenda_item else ""
        print(f"[{lang}] ¶{paragraph.id}  {paragraph.section or paragraph.chapter or ''}"
              f"{'  ' + item if item else ''}"
              f"{'  (' + ', '.join(flags) + ')' if flags else ''}")
        print(paragraph.text)
        print()
    return 0


def export_rows(corpus) -> list[dict]:
    rows = []
    for key in corpus.keys():  # noqa: SIM118 - Corpus.keys() is a method of ours, not a dict view
        versions = {lang: corpus.get(key, lang) for lang in corpus.languages}
        versions = {lang: p for lang, p in versions.items() if p}
        first = next(iter(versions.values()))
        rows.append({
            "id": first.id, "record": first.record, "section": first.section or first.chapter,
            "chapter": first.chapter, "agenda_item": first.agenda_item, "pending": first.pending,
            "missing_annex": first.missing_annex, "placeholder": first.placeholder,
            # 'section' is the first language's; every language's heading is here.
            "sections": {lang: p.section or p.chapter for lang, p in versions.items()},
            "text": {lang: p.text for lang, p in versions.items()},
        })
    return rows


def cmd_export(args, settings: Settings) -> int:
    index = _open_records(settings)
    for row in export_rows(index.corpus):
        print(json.dumps(row, ensure_ascii=False))
    return 0


def cmd_feedback(args, settings: Settings) -> int:
    from ui.feedback import FeedbackStore, benchmark_lines

    lines = benchmark_lines(FeedbackStore(settings.feedback_path).all())
    text = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)
    if args.out is None:
        print(text, end="")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out}: {len(lines)} feedback line{'s' * (len(lines) != 1)}")
    return 0


def cmd_doctor(args, settings: Settings) -> int:
    from indexer.build import inspect_index
    from indexer.live import open_vector_store
    from indexer.manifest import library_versions
    from indexer.store import UNREACHABLE
    from recordqa.factories import collection_paths, make_embedders, make_tokenizer, stale_reasons

    print(f"settings hash:   {settings.settings_hash()}  (index key {settings.index_key()})")
    print(f"records:         {', '.join(str(p) for p in collection_paths(settings))}")
    print(f"index:           {settings.index_dir}")
    _, dense = make_embedders(settings)
    print(f"dense:           {dense.describe()}")
    print(f"retrieval:       {settings.retrieval_mode}; reranker {settings.reranker_model or 'off'}")
    answers = (f"llm {settings.llm_model} at {settings.llm_base_url}" if settings.llm_base_url
               else "extractive (no LLM configured)")
    print(f"answers:         {answers}")
    print(f"answer models:   {_answer_model_line(settings, dense)}")
    inspection = inspect_index(settings.index_dir)
    problems = inspection.problems
    current = inspection.current
    if not problems and current is not None and current.manifest.dense.get("model"):
        _, store_problem = open_vector_store(current.folder, current.manifest, chroma_url=settings.chroma_url)
        if store_problem and store_problem.startswith(UNREACHABLE):
            print(f"index status:    {store_problem}; start the server or correct RECORDQA_CHROMA_URL")
            return 1
        problems = [store_problem] if store_problem else []
    if not inspection.exists:
        print("index status:    missing (run `recordqa index`)")
    elif problems:
        fallback = inspection.usable
        print(f"index status:    broken: {'; '.join(problems)}; "
              f"{f'ask and serve answer from the newest intact build {fallback.name}; ' if fallback else ''}"
              f"run `recordqa index --force` to repair")
    else:
        reasons = stale_reasons(settings, make_tokenizer(settings), dense)
        print(f"index status:    {'stale: ' + '; '.join(reasons) if reasons else 'current'} ({current.name})")
    versions = library_versions()
    print("libraries:       " + ", ".join(f"{k} {v}" for k, v in versions.items()))
    return 1 if problems else 0


def _answer_model_line(settings: Settings, dense) -> str:
    """Which fit answers: the dense one only for the embedding model it was fitted with."""
    from qa.answer_model import AnswerModelError, load_answer_model

    try:
        model = load_answer_model(settings.answer_model)
    except AnswerModelError as exc:
        return f"broken: {exc}"
    used = "dense" if dense.model is not None and dense.model == model.dense_model else "lexical"
    fitted = model.cv.get(used, {})
    return (f"{settings.answer_model} ({model.digest}); the {used} fit answers "
            f"(cross-validated accuracy {fitted.get('accuracy', '?')}, answer threshold "
            f"{model.fits[used].answer_threshold})")


def cmd_chat(args, settings: Settings) -> int:
    if args.record:
        _check_records(settings, args.record)
    answerer = _answerer(settings)
    for notice in answerer.notices:
        _note(notice)
    print(f"RecordQA chat ({answerer.mode}). Ask in Chinese or English; empty line or Ctrl-D to quit.")
    history: list[dict] = []
    from qa.answer import QuestionError

    while True:
        try:
            question = input("> ")
        except EOFError:
            print()
            return 0
        if not question.strip():
            return 0
        try:
            answer = answerer.ask(question, history=history, records=args.record)
        except QuestionError as exc:
            print(f"error: {exc}")
            continue
        print(_shown(answerer, answer.answer))
        for line in _citation_lines(answer, indent="  "):
            print(line)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.answer}]


def cmd_serve(args, settings: Settings) -> int:
    import socket

    import uvicorn

    from ui.app import create_app

    answerer = _answerer(settings)
    for notice in answerer.notices:
        _note(notice)
    # Warm up jieba, the dictionary and the embedder now, so the first visitor does not wait for them;
    # the questions come from the loaded records, as the chat's examples do.
    from ui.record_card import example_questions

    for question in example_questions(answerer.index.corpus, answerer.extractive.packs)[:2]:
        answerer.ask(question)
    app = create_app(settings, answerer)
    sock = socket.socket(socket.AF_INET6 if ":" in args.host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((args.host, args.port))
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    # Listen before announcing the URL: a client that connects while uvicorn is still starting
    # waits in the backlog instead of being refused.
    sock.listen(2048)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    print(f"RecordQA is serving at http://{shown}:{port}/ (chat), /docs (API), /embed.js (widget)", flush=True)
    from ui.serving import server_config

    uvicorn.Server(server_config(settings, app)).run(sockets=[sock])
    return 0


def cmd_eval(args, settings: Settings) -> int:
    if args.eval_command == "diff":
        return _eval_diff(args)
    if args.eval_command == "export-beir":
        return _eval_export_beir(args, settings)
    if args.eval_command == "fit":
        from eval.fit import run_fit

        run_fit(settings, out=args.fit_out, records=args.fit_records, log=print)
        return 0
    from eval.harness import evaluate
    from eval.retry import RetryPolicy

    if (args.stream or args.retries is not None or args.retry_budget is not None) and not args.endpoint:
        print("error: --stream, --retries and --retry-budget need --endpoint", file=sys.stderr)
        return 2
    policy = RetryPolicy()
    policy = RetryPolicy(retries=policy.retries if args.retries is None else args.retries,
                         budget_s=policy.budget_s if args.retry_budget is None else args.retry_budget)
    if policy.retries < 0 or not policy.budget_s >= 0:
        print("error: --retries and --retry-budget must be 0 or more", file=sys.stderr)
        return 2
    results = evaluate(settings, args.dataset, args.out, compare=args.compare, endpoint=args.endpoint,
                       api_key=args.api_key, progress=not args.quiet, resamples=args.resamples,
                       sweep=not args.no_sweep, log=_note, answerer_factory=lambda: _answerer(settings),
                       stream=args.stream, retry=policy)
    for name, config in results["configurations"].items():
        overall = config["summary"].get("overall", {})
        errors = config.get("errors", 0)
        ttft = (f", time to first token median {overall['ttft_ms_median']:.0f} ms, p95 {overall['ttft_ms_p95']:.0f} ms"
                if overall.get("ttft_ms_median") is not None else "")
        print(f"{name}: {config.get('questions', overall.get('questions', 0))} questions, {errors} "
              f"error{'s' * (errors != 1)}{' (not scored)' if errors else ''}; hit@5 {_fmt(overall.get('hit@5'))}, "
              f"answer accuracy {_fmt(overall.get('answer_accuracy'))}, abstention recall "
              f"{_fmt(overall.get('abstention_recall'))}, "
              f"false abstention {_fmt(overall.get('false_abstention_rate'))}, "
              f"CRAG {_fmt(overall.get('crag_score'))}, citations not retrieved "
              f"{_fmt(overall.get('citations_not_retrieved'))}{ttft}")
    from eval.report import dataset_issue_lines, record_lines

    if results["summary"].get("by_record"):
        print(f"{results['configuration']} per record:")
        print("\n".join(record_lines(results["summary"])))
    for name, reason in results["skipped"].items():
        print(f"{name}: skipped ({reason})")
    for path in results["written"]:
        print(f"wrote {path}")
    if results["run"]["interrupted"]:
        print("interrupted: the outputs cover the questions finished so far", file=sys.stderr)
        return 130
    for line in dataset_issue_lines(results):  # a gold passage the index lacks is the dataset's fault
        print(line, file=sys.stderr)
    failed = {name: c for name, c in results["configurations"].items() if c.get("errors")}
    for name, config in failed.items():
        first = config["first_errors"][0]
        print(f"error: {name}: {config['errors']} of {config['questions']} questions got no answer (not scored); "
              f"first: {first['id']}: {first['error']}", file=sys.stderr)
    return 1 if failed or results.get("dataset_errors") else 0


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def _eval_diff(args) -> int:
    from eval.diff import diff_results, format_diff

    loaded = []
    for path in (args.a, args.b):
        if path.is_dir():
            path = path / "results.json"
        try:
            loaded.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            print(f"error: cannot read {path}: {exc}", file=sys.stderr)
            return 2
    diff = diff_results(*loaded)
    print(json.dumps(diff, indent=2, ensure_ascii=False) if args.json else format_diff(diff), end="" if not args.json
          else "\n")
    return 0


def _eval_export_beir(args, settings: Settings) -> int:
    from eval.dataset import export_beir, load_dataset

    dataset = load_dataset(args.beir_dataset or args.dataset)
    counts = export_beir(dataset, _open_index(settings).corpus, args.dir)
    print(f"wrote {args.dir}: {counts['documents']} documents, {counts['queries']} queries, {counts['qrels']} qrels")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
