"""The Gradio chat: the full page (/chat/) and the compact view the widget frames (/widget/).

Answers are computed by the shared ``Service`` (same checks, rate limit and answer path as
the API) and streamed into the chat in pieces. Citation links are opened by
``static/chat.js`` in a side-by-side paragraph viewer; all record and user text is escaped.
"""

from __future__ import annotations

import logging

import gradio as gr
from fastapi import FastAPI

from qa.answer import Answer, QuestionError
from ui.closed_routes import ClosedRoutes
from ui.feedback import MAX_COMMENT_CHARS, FeedbackStore
from ui.labels import LABELS, interface_language, label
from ui.markup import answer_markdown, conversation_markdown, escape_text, pieces
from ui.ratelimit import over_limit_at_proxy
from ui.record_card import describe_records, example_questions
from ui.service import RateLimited, Service
from ui.shown_answers import ShownAnswers

log = logging.getLogger("recordqa.server")

HEAD = '<link rel="stylesheet" href="/static/chat.css"><script src="/static/chat.js" defer></script>'
# Set the page language for chat.js (viewer labels) before the Python handler relabels the page.
SET_LANG_JS = "(lang, record) => { document.documentElement.dataset.rqLang = lang; return [lang, record]; }"
# The conversation's Markdown is built on the server (conversation_markdown) and saved by the
# browser as a file: nothing is written on the server.
DOWNLOAD_JS = """(text) => {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], {type: "text/markdown;charset=utf-8"}));
  link.download = "recordqa-conversation.md";
  document.body.appendChild(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}"""


def status_markdown(service: Service, ui_lang: str) -> str:
    status = service.status()
    mode = label(ui_lang, "extractive") if status["mode"] == "extractive" else f"LLM {status['mode'][4:]}"
    dense = status["dense"]
    if dense["on"]:
        # Which languages semantic search covers, by name: "on" alone misled when it was English only.
        languages = language_names(dense["languages"], ui_lang)
        model = escape_text(dense["label"] or "")
        if dense["all_languages"]:
            dense_text = f"{label(ui_lang, 'dense_on')} ({languages}; {model})"
        else:
            dense_text = label(ui_lang, "dense_partial", languages=languages, model=model)
    else:
        dense_text = label(ui_lang, "dense_off")
    return f"{label(ui_lang, 'mode')}: {escape_text(mode)} · {label(ui_lang, 'dense')}: {dense_text}"


def language_names(codes: list[str], ui_lang: str) -> str:
    """'Chinese and English' / '中文和英文' for ['zh', 'en'] (codes without a name are shown as they are)."""
    names = [label(ui_lang, f"lang_{code}") if f"lang_{code}" in LABELS["en"] else code for code in codes]
    return label(ui_lang, "languages_joiner").join(names)


def build_chat(service: Service, *, compact: bool = False) -> gr.Blocks:
    records = service.answerer.index.corpus.record_ids
    shown = ShownAnswers(records[0] if len(records) == 1 else "")
    feedback = FeedbackStore(service.settings.feedback_path)
    # The chat asks through this wrapper, which keeps each answer it shows, so a thumbs up/down can
    # store the answer's JSON and a downloaded conversation can cite its quotes.
    service = shown.recording(service)
    corpus, packs = service.answerer.index.corpus, service.answerer.extractive.packs
    examples = example_questions(corpus, packs)
    catalogue = service.answerer.records

    def subtitle(ui_lang: str, chosen: str = "") -> str:
        described = describe_records(corpus, ui_lang, packs, (chosen,) if chosen else ())
        if len(records) > 1 and not chosen:
            return label(ui_lang, "subtitle_many", count=len(records), records=described)
        return label(ui_lang, "subtitle", records=described)

    def record_choices(ui_lang: str) -> list[tuple[str, str]]:
        """'All records' and each record by its symbol (else id) and title."""
        named = [(" · ".join(part for part in (info.name, info.title) if part)[:120], info.id)
                 for info in catalogue.values()]
        return [(label(ui_lang, "all_records"), ""), *named]

    def placeholder(ui_lang: str) -> str:
        own = [q for q in examples if (ui_lang == "zh") == any("\u4e00" <= ch <= "\u9fff" for ch in q)]
        return label(ui_lang, "placeholder", example=(own or examples or [""])[0])

    def client(request: gr.Request | None) -> str:
        host = getattr(getattr(request, "client", None), "host", None)
        return f"ip:{host or 'unknown'}"

    def respond(question: str, chat: list, history: list, ui_lang: str, chosen: str | None, request: gr.Request):
        chat = list(chat or [])
        question = question or ""
        if question.strip():
            chat.append({"role": "user", "content": escape_text(question)})
        try:
            over_limit = over_limit_at_proxy(getattr(request, "headers", None))
            if over_limit is not None:
                raise RateLimited(over_limit)
            events = service.ask_stream(question, history, None, client(request), records=chosen or None)
        except QuestionError as exc:
            chat.append({"role": "assistant",
                         "content": f"**{label(ui_lang, 'cannot_ask')}**: {escape_text(str(exc))}"})
            yield chat, history, question
            return
        except RateLimited as exc:
            chat.append({"role": "assistant",
                         "content": label(ui_lang, "rate_limited", seconds=max(1, round(exc.retry_after_s)))})
            yield chat, history, question
            return
        except Exception:
            log.exception("chat answer failed")
            chat.append({"role": "assistant", "content": label(ui_lang, "server_error")})
            yield chat, history, question
            return
        chat.append({"role": "assistant", "content": ""})
        records = service.answerer.index.corpus.record_ids
        streamed, answer = "", None
        try:
            for item in events:
                if isinstance(item, Answer):
                    answer = item  # the last item: the loop ends and the stream closes behind it
                    continue
                # The LLM's words as they come, shown literally; the checked answer replaces them.
                streamed += item
                chat[-1] = {"role": "assistant", "content": escape_text(streamed)}
                yield chat, history, ""
        except Exception:
            log.exception("chat answer failed")
            chat[-1] = {"role": "assistant", "content": label(ui_lang, "server_error")}
            yield chat, history, question
            return
        final = answer_markdown(answer, ui_lang, records[0] if len(records) == 1 else "")
        if not streamed:
            # An extractive answer comes whole: shown in pieces as it renders, without waiting between them.
            text = ""
            for piece in pieces(final):
                text += piece
                chat[-1] = {"role": "assistant", "content": text}
                yield chat, history, ""
        chat[-1] = {"role": "assistant", "content": final}
        history = [*history, {"role": "user", "content": answer.question},
                   {"role": "assistant", "content": answer.answer}]
        yield chat, history, ""

    def relabel(ui_lang: str, chosen: str | None):
        return (
            gr.update(value=f"## {label(ui_lang, 'title')}\n{subtitle(ui_lang, chosen or '')}"),
            gr.update(value=status_markdown(service, ui_lang)),
            gr.update(label=label(ui_lang, "chat")),
            gr.update(label=label(ui_lang, "question"), placeholder=placeholder(ui_lang)),
            gr.update(value=label(ui_lang, "ask")),
            gr.update(value=label(ui_lang, "new")),
            gr.update(label=label(ui_lang, "interface")),
            gr.update(label=label(ui_lang, "feedback_comment")),
            gr.update(value=label(ui_lang, "download")),
            gr.update(value=""),
            gr.update(label=label(ui_lang, "record_selector"), choices=record_choices(ui_lang)),
        ) + ((gr.update(label=label(ui_lang, "examples")),) if examples_block is not None else ())

    def choose(ui_lang: str, chosen: str | None):
        header_update = gr.update(value=f"## {label(ui_lang, 'title')}\n{subtitle(ui_lang, chosen or '')}")
        if examples_block is None:
            return header_update
        # The examples follow the choice: those of the chosen record, or of every record.
        shown = example_questions(corpus, packs, records=(chosen,)) if chosen else examples
        return header_update, gr.update(samples=[[q] for q in shown])

    def initial_record(request: gr.Request):
        """``?record=ID`` (the widget's data-record) fixes the record and hides the selector; an id
        that is not loaded is ignored and every record is searched."""
        wanted = request.query_params.get("record") or ""
        if wanted in catalogue and len(records) > 1:
            return gr.update(value=wanted, visible=False)
        return gr.update()

    def rate(chat: list, comment: str, ui_lang: str, data: gr.LikeData):
        if data.liked not in (True, False):  # a thumb taken back: nothing to store
            return gr.update(), gr.update()
        index = data.index[0] if isinstance(data.index, list | tuple) else data.index
        message = chat[index] if isinstance(index, int) and 0 <= index < len(chat or []) else data.value
        answer = shown.find(message) or shown.find(data.value)
        if answer is None:
            return gr.update(value=label(ui_lang, "feedback_unknown")), gr.update()
        feedback.add(answer.public_json(), "up" if data.liked else "down", (comment or "")[:MAX_COMMENT_CHARS],
                     service.settings.settings_hash(), "chat")
        return gr.update(value=label(ui_lang, "feedback_thanks")), gr.update(value="")

    def conversation(chat: list, ui_lang: str) -> str:
        return conversation_markdown(shown.in_chat(chat), ui_lang)

    def initial_language(request: gr.Request) -> str:
        return interface_language(request.query_params.get("lang"), request.headers.get("accept-language"))

    with gr.Blocks(title="RecordQA", fill_height=compact, analytics_enabled=False) as demo:
        with gr.Row(equal_height=True):
            header = gr.Markdown(f"## {label('en', 'title')}\n{subtitle('en')}", elem_id="rq-header",
                                 visible=not compact)
            ui_lang = gr.Radio([("中文", "zh"), ("English", "en")], value="en", label=label("en", "interface"),
                               elem_id="rq-lang", scale=0, min_width=200)
        status = gr.Markdown(status_markdown(service, "en"), elem_id="rq-status")
        # Shown only when there is a choice to make.
        record_choice = gr.Dropdown(record_choices("en"), value="", label=label("en", "record_selector"),
                                    elem_id="rq-record", visible=len(records) > 1, interactive=True)
        chatbot = gr.Chatbot(label=label("en", "chat"), elem_id="rq-chat", height=330 if compact else 520,
                             sanitize_html=True, render_markdown=True, feedback_options=("Like", "Dislike"),
                             buttons=["copy"], group_consecutive_messages=False)
        with gr.Row():
            box = gr.Textbox(label=label("en", "question"), placeholder=placeholder("en"),
                             elem_id="rq-question", scale=8, lines=1, max_lines=4, autofocus=not compact)
            ask = gr.Button(label("en", "ask"), variant="primary", elem_id="rq-ask", scale=1, min_width=80)
        new = gr.Button(label("en", "new"), elem_id="rq-new", size="sm")
        with gr.Row(visible=not compact):
            comment = gr.Textbox(label=label("en", "feedback_comment"), elem_id="rq-feedback-comment", scale=8,
                                 lines=1, max_lines=3, max_length=MAX_COMMENT_CHARS)
            download = gr.Button(label("en", "download"), elem_id="rq-download", size="sm", scale=2)
        thanks = gr.Markdown("", elem_id="rq-feedback-status")
        markdown = gr.Textbox(visible=False, elem_id="rq-conversation")
        examples_block = None
        if not compact:
            examples_block = gr.Examples(examples, inputs=[box], label=label("en", "examples"),
                                         elem_id="rq-examples")
        history = gr.State([])

        outputs = [chatbot, history, box]
        limit = service.settings.ui_concurrency
        box.submit(respond, [box, chatbot, history, ui_lang, record_choice], outputs, concurrency_limit=limit)
        ask.click(respond, [box, chatbot, history, ui_lang, record_choice], outputs, concurrency_limit=limit)
        new.click(lambda: ([], [], ""), None, outputs, queue=False)
        # The chat's own trash button must forget the conversation too, not just hide it.
        chatbot.clear(lambda: [], None, history, queue=False)
        relabelled = [header, status, chatbot, box, ask, new, ui_lang, comment, download, thanks, record_choice]
        if examples_block is not None:
            relabelled.append(examples_block.dataset)
        ui_lang.change(relabel, [ui_lang, record_choice], relabelled, js=SET_LANG_JS, queue=False)
        record_choice.change(choose, [ui_lang, record_choice],
                             [header] + ([examples_block.dataset] if examples_block is not None else []), queue=False)
        chatbot.like(rate, [chatbot, comment, ui_lang], [thanks, comment], queue=False)
        download.click(conversation, [chatbot, ui_lang], markdown, queue=False).then(
            None, [markdown], None, js=DOWNLOAD_JS, queue=False)
        demo.load(initial_language, None, [ui_lang], queue=False)
        demo.load(initial_record, None, [record_choice], queue=False)
    # Questions enter only through Gradio's queue (queue/join), the route a proxy in front of several
    # replicas counts them on (deploy/nginx.conf.template); /gradio_api/run/respond would skip it.
    demo.api_open = False
    return demo


def mount_chat(app: FastAPI, service: Service) -> None:
    auth = [tuple(entry.split(":", 1)) for entry in service.settings.ui_auth] or None
    theme = gr.themes.Default(font=["system-ui", "Noto Sans CJK SC", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])
    mounts = (("/widget", True), ("/chat", False))
    for path, compact in mounts:
        gr.mount_gradio_app(app, build_chat(service, compact=compact), path=path, auth=auth, theme=theme,
                            head=HEAD, footer_links=[], run_history=False, show_error=False, ssr_mode=False,
                            mcp_server=False, pwa=False)
    # The chat takes no files: Gradio's anonymous upload route (which answers with server paths) is closed.
    app.add_middleware(ClosedRoutes, mounts=frozenset(path for path, _ in mounts))
