"""The Gradio chat: the full page (/chat/) and the compact view the widget frames (/widget/).

Answers are computed by the shared ``Service`` (same checks, rate limit and answer path as
the API) and streamed into the chat in pieces. Citation links are opened by
``static/chat.js`` in a side-by-side paragraph viewer; all record and user text is escaped.
"""

from __future__ import annotations

import logging
import time

import gradio as gr
from fastapi import FastAPI

from qa.answer import QuestionError
from ui.labels import interface_language, label
from ui.markup import answer_markdown, escape_text, pieces
from ui.record_card import describe_records, example_questions
from ui.service import RateLimited, Service

log = logging.getLogger("recordqa.server")

HEAD = '<link rel="stylesheet" href="/static/chat.css"><script src="/static/chat.js" defer></script>'
# Set the page language for chat.js (viewer labels) before the Python handler relabels the page.
SET_LANG_JS = "(lang) => { document.documentElement.dataset.rqLang = lang; return lang; }"
STREAM_PAUSE_S = 0.03


def status_markdown(service: Service, ui_lang: str) -> str:
    status = service.status()
    mode = label(ui_lang, "extractive") if status["mode"] == "extractive" else f"LLM {status['mode'][4:]}"
    dense = status["dense"]
    if dense["on"]:
        languages = "/".join(dense["languages"])
        scope = languages if dense["all_languages"] else label(ui_lang, "dense_only", languages=languages)
        dense_text = f"{label(ui_lang, 'dense_on')} ({escape_text(dense['label'])}; {scope})"
    else:
        dense_text = label(ui_lang, "dense_off")
    return f"{label(ui_lang, 'mode')}: {escape_text(mode)} · {label(ui_lang, 'dense')}: {dense_text}"


def build_chat(service: Service, *, compact: bool = False) -> gr.Blocks:
    corpus, packs = service.answerer.index.corpus, service.answerer.extractive.packs
    examples = example_questions(corpus, packs)

    def subtitle(ui_lang: str) -> str:
        return label(ui_lang, "subtitle", records=describe_records(corpus, ui_lang, packs))

    def placeholder(ui_lang: str) -> str:
        own = [q for q in examples if (ui_lang == "zh") == any("\u4e00" <= ch <= "\u9fff" for ch in q)]
        return label(ui_lang, "placeholder", example=(own or examples or [""])[0])

    def client(request: gr.Request | None) -> str:
        host = getattr(getattr(request, "client", None), "host", None)
        return f"ip:{host or 'unknown'}"

    def respond(question: str, chat: list, history: list, ui_lang: str, request: gr.Request):
        chat = list(chat or [])
        question = question or ""
        if question.strip():
            chat.append({"role": "user", "content": escape_text(question)})
        try:
            answer = service.ask(question, history, None, client(request))
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
        text = ""
        chat.append({"role": "assistant", "content": ""})
        records = service.answerer.index.corpus.record_ids
        for piece in pieces(answer_markdown(answer, ui_lang, records[0] if len(records) == 1 else "")):
            text += piece
            chat[-1] = {"role": "assistant", "content": text}
            yield chat, history, ""
            time.sleep(STREAM_PAUSE_S)
        history = [*history, {"role": "user", "content": answer.question},
                   {"role": "assistant", "content": answer.answer}]
        yield chat, history, ""

    def relabel(ui_lang: str):
        return (
            gr.update(value=f"## {label(ui_lang, 'title')}\n{subtitle(ui_lang)}"),
            gr.update(value=status_markdown(service, ui_lang)),
            gr.update(label=label(ui_lang, "chat")),
            gr.update(label=label(ui_lang, "question"), placeholder=placeholder(ui_lang)),
            gr.update(value=label(ui_lang, "ask")),
            gr.update(value=label(ui_lang, "new")),
            gr.update(label=label(ui_lang, "interface")),
        )

    def initial_language(request: gr.Request) -> str:
        return interface_language(request.query_params.get("lang"), request.headers.get("accept-language"))

    with gr.Blocks(title="RecordQA", fill_height=compact, analytics_enabled=False) as demo:
        with gr.Row(equal_height=True):
            header = gr.Markdown(f"## {label('en', 'title')}\n{subtitle('en')}", elem_id="rq-header",
                                 visible=not compact)
            ui_lang = gr.Radio([("中文", "zh"), ("English", "en")], value="en", label=label("en", "interface"),
                               elem_id="rq-lang", scale=0, min_width=200)
        status = gr.Markdown(status_markdown(service, "en"), elem_id="rq-status")
        chatbot = gr.Chatbot(label=label("en", "chat"), elem_id="rq-chat", height=330 if compact else 520,
                             sanitize_html=True, render_markdown=True, feedback_options=None,
                             buttons=["copy"], group_consecutive_messages=False)
        with gr.Row():
            box = gr.Textbox(label=label("en", "question"), placeholder=placeholder("en"),
                             elem_id="rq-question", scale=8, lines=1, max_lines=4, autofocus=not compact)
            ask = gr.Button(label("en", "ask"), variant="primary", elem_id="rq-ask", scale=1, min_width=80)
        new = gr.Button(label("en", "new"), elem_id="rq-new", size="sm")
        if not compact:
            gr.Examples(examples, inputs=[box], label=label("en", "examples"), elem_id="rq-examples")
        history = gr.State([])

        outputs = [chatbot, history, box]
        limit = service.settings.ui_concurrency
        box.submit(respond, [box, chatbot, history, ui_lang], outputs, concurrency_limit=limit)
        ask.click(respond, [box, chatbot, history, ui_lang], outputs, concurrency_limit=limit)
        new.click(lambda: ([], [], ""), None, outputs, queue=False)
        # The chat's own trash button must forget the conversation too, not just hide it.
        chatbot.clear(lambda: [], None, history, queue=False)
        ui_lang.change(relabel, [ui_lang], [header, status, chatbot, box, ask, new, ui_lang], js=SET_LANG_JS,
                       queue=False)
        demo.load(initial_language, None, [ui_lang], queue=False)
    return demo


def mount_chat(app: FastAPI, service: Service) -> None:
    auth = [tuple(entry.split(":", 1)) for entry in service.settings.ui_auth] or None
    theme = gr.themes.Default(font=["system-ui", "Noto Sans CJK SC", "sans-serif"],
                              font_mono=["ui-monospace", "monospace"])
    for path, compact in (("/widget", True), ("/chat", False)):
        gr.mount_gradio_app(app, build_chat(service, compact=compact), path=path, auth=auth, theme=theme,
                            head=HEAD, footer_links=[], run_history=False, show_error=False, ssr_mode=False,
                            mcp_server=False, pwa=False)
