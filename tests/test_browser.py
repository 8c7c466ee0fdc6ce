"""The chat and the widget in a real browser: Debian's Chromium driven by Playwright, against the
real server on 127.0.0.1. Screenshots go to out/test-artifacts/ (or $TEST_ARTIFACTS_DIR)."""

from __future__ import annotations

import os
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from recordqa.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
# Without the background-networking flags Chromium keeps dialling Google on a closed network.
CHROMIUM_ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS_DIR") or PROJECT_ROOT / "out" / "test-artifacts")
CITATION_LINK = 'a[href*="#para="]'
TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install chromium chromium-driver (.ci/run does this)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page_factory(browser):
    """page_factory(locale) -> a new page in a fresh context; records every request it makes."""
    contexts = []

    def make(locale: str = "en-US"):
        context = browser.new_context(locale=locale, viewport={"width": 1280, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.requested = []
        page.dialogs = []
        page.on("request", lambda request: page.requested.append(request.url))
        page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message), dialog.dismiss()))
        return page

    yield make
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / name
    page.screenshot(path=str(path))
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


def open_chat(page, url: str) -> None:
    page.goto(url, wait_until="load")
    page.locator("#rq-question textarea").wait_for()


def watch_last_answer(frame) -> None:
    """Record every text the last chat message shows, to see the answer arrive in pieces."""
    frame.evaluate("""() => {
        window.__rqSeen = [];
        const chat = document.querySelector('#rq-chat');
        new MutationObserver(() => {
            const bots = chat.querySelectorAll('[data-testid="bot"]');
            const last = bots[bots.length - 1];
            if (last) window.__rqSeen.push(last.innerText);
        }).observe(chat, {subtree: true, childList: true, characterData: true});
    }""")


def ask(frame, question: str, answers_before: int = 0) -> str:
    """Type and send a question; return the text of the new answer once its citations arrived."""
    frame.locator("#rq-question textarea").fill(question)
    frame.locator("#rq-ask").click()
    bots = frame.locator('#rq-chat [data-testid="bot"]')
    bots.nth(answers_before).wait_for()
    return settled_text(frame, bots.nth(answers_before))


def settled_text(frame, locator, quiet_ms: int = 600, timeout_ms: int = TIMEOUT_MS) -> str:
    """The locator's text once it has stopped changing for ``quiet_ms`` (a streamed answer is done)."""
    text, stable_for, waited = None, 0, 0
    while waited < timeout_ms:
        current = locator.inner_text()
        stable_for = stable_for + 100 if current == text and current else 0
        if stable_for >= quiet_ms:
            return current
        text = current
        frame.wait_for_timeout(100)
        waited += 100
    raise AssertionError(f"the answer never settled: {text!r}")


def open_citation(frame, answer_index: int = 0):
    link = frame.locator(f'#rq-chat [data-testid="bot"] >> nth={answer_index}').locator(CITATION_LINK).first
    link.click()
    viewer = frame.locator("#rq-viewer")
    viewer.wait_for(state="visible")
    return viewer


def local_only(urls: list[str], *allowed_hosts: str) -> list[str]:
    """URLs that left the machine (anything not on 127.0.0.1 / the allowed hosts)."""
    return [u for u in urls if urlsplit(u).scheme in ("http", "https", "ws", "wss")
            and urlsplit(u).hostname not in ("127.0.0.1", *allowed_hosts)]


# --------------------------------------------------------------------------- the chat page


def test_english_question_streams_a_cited_answer_that_opens_the_paragraph_in_both_languages(server, page_factory):
    page = page_factory("en-US")
    open_chat(page, server.url + "/")
    assert "Your question" in page.locator("#rq-question").inner_text()
    assert "extractive" in page.locator("#rq-status").inner_text()
    watch_last_answer(page)

    answer = ask(page, "Who was elected President of the Assembly?")

    assert "Martha Delgado Peralta" in answer and "[¶3]" in answer
    seen = page.evaluate("window.__rqSeen")
    partial = {text for text in seen if text and text != seen[-1] and len(text) < len(seen[-1])}
    assert partial, "the answer arrived in one piece, not streamed"
    viewer = open_citation(page)
    assert viewer.get_attribute("data-paragraph") == "3"
    zh = viewer.locator('.rq-col[data-lang="zh"]').inner_text()
    en = viewer.locator('.rq-col[data-lang="en"]').inner_text()
    assert "鼓掌方式选举 Martha Delgado Peralta 女士（墨西哥）" in zh
    assert "by acclamation as President" in en
    assert "agenda item 2" in viewer.locator(".rq-viewer-meta").inner_text().lower()
    assert "Martha Delgado Peralta" in viewer.locator('.rq-col[data-lang="en"] mark').first.inner_text()
    screenshot(page, "chat-en.png")
    assert local_only(page.requested) == []


def test_chinese_browser_gets_a_chinese_interface_and_chinese_answers(server, page_factory):
    page = page_factory("zh-CN")
    open_chat(page, server.url + "/chat/")
    page.wait_for_function("() => document.querySelector('#rq-header').innerText.includes('会议记录问答')")
    assert "您的问题" in page.locator("#rq-question").inner_text()

    answer = ask(page, "人居大会第一届会议选举谁为主席？")

    assert "人居大会以鼓掌方式选举 Martha Delgado Peralta 女士" in answer and "[¶3]" in answer
    viewer = open_citation(page)
    assert viewer.locator('.rq-col[data-lang="zh"] h4').inner_text() == "中文"
    assert viewer.locator('.rq-col[data-lang="en"] h4').inner_text() == "英文"
    assert "鼓掌方式" in viewer.locator('.rq-col[data-lang="zh"] mark').first.inner_text()
    assert "by acclamation" in viewer.locator('.rq-col[data-lang="en"]').inner_text()
    screenshot(page, "chat-zh.png")


def test_interface_switch_relabels_the_page(server, page_factory):
    page = page_factory("en-US")
    open_chat(page, server.url + "/chat/")
    page.get_by_label("中文").check()
    page.wait_for_function("() => document.querySelector('#rq-ask').innerText.trim() === '提问'")
    assert "新对话" in page.locator("#rq-new").inner_text()
    page.get_by_label("English").check()
    page.wait_for_function("() => document.querySelector('#rq-ask').innerText.trim() === 'Ask'")


def test_follow_up_uses_the_earlier_turn_and_new_conversation_forgets_it(server, page_factory):
    page = page_factory("en-US")
    open_chat(page, server.url + "/chat/")
    ask(page, "Who was elected President of the Assembly?")

    follow_up = ask(page, "How was she elected?", answers_before=1)

    assert "acclamation" in follow_up and "[¶3]" in follow_up
    assert "Searched as: Who was elected President of the Assembly? How was she elected?" in follow_up
    page.locator("#rq-new").click()
    page.wait_for_function("() => document.querySelectorAll('#rq-chat [data-testid=\"bot\"]').length === 0")
    fresh = ask(page, "How was she elected?")
    assert "Searched as" not in fresh

    # The chat's own trash button forgets the conversation as well.
    assert "Searched as" in ask(page, "How was she elected?", answers_before=1)
    page.locator("#rq-chat").get_by_role("button", name=re.compile("clear", re.I)).click()
    page.wait_for_function("() => document.querySelectorAll('#rq-chat [data-testid=\"bot\"]').length === 0")
    assert "Searched as" not in ask(page, "How was she elected?")


def test_unanswerable_question_is_shown_as_an_abstention_with_its_reason(server, page_factory):
    page = page_factory("en-US")
    open_chat(page, server.url + "/chat/")

    answer = ask(page, "Which United Nations bodies and specialized agencies were represented at the session?")

    assert answer.startswith("No answer from the record")
    assert "has not yet filled in [¶26]" in answer
    viewer = open_citation(page)
    assert "[待补]" in viewer.locator('.rq-col[data-lang="zh"]').inner_text()
    assert "to be completed" in viewer.locator(".rq-viewer-meta").inner_text()


def test_bad_questions_get_a_message_and_no_script_runs(server, page_factory):
    page = page_factory("en-US")
    open_chat(page, server.url + "/chat/")

    page.locator("#rq-question textarea").fill("   ")
    page.locator("#rq-ask").click()
    bots = page.locator('#rq-chat [data-testid="bot"]')
    bots.first.wait_for()
    assert "Cannot ask this question" in bots.first.inner_text()
    assert "empty" in bots.first.inner_text()

    page.locator("#rq-question textarea").fill('<img src=x onerror="alert(1)"> who presided?')
    page.locator("#rq-ask").click()
    bots.nth(1).wait_for()
    assert "HTML or script markup" in bots.nth(1).inner_text()
    # The question is shown as text; no element or dialog came from it.
    assert '<img src=x onerror="alert(1)">' in page.locator("#rq-chat").inner_text()
    assert page.locator('#rq-chat img[src="x"]').count() == 0

    page.locator("#rq-question textarea").fill("Who presided? [click](javascript:alert(2)) **bold**")
    page.locator("#rq-ask").click()
    bots.nth(2).wait_for()
    assert page.locator('#rq-chat a[href^="javascript"]').count() == 0
    assert "[click](javascript:alert(2)) **bold**" in page.locator("#rq-chat").inner_text()
    assert page.dialogs == []


# --------------------------------------------------------------------------- the widget on host pages


class HostPages:
    """Static host pages on their own port: a second (or third) local origin. ``pages`` can be set
    after the origin is known."""

    def __init__(self):
        self.pages: dict[str, str] = {}
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = host.pages.get(self.path.split("?")[0], "").encode()
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.origin = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def host_pages(server_url: str, lang: str) -> dict[str, str]:
    return {
        "/": f"""<!doctype html><html><head><meta charset="utf-8"><title>Intranet</title>
<style>body {{ font-family: serif; background: #f5f5dc; }} button {{ color: rgb(255, 0, 0); }}</style></head>
<body><h1>Delegates' intranet</h1><p>Meeting documents and services.</p><button id="own">Host button</button>
<script src="{server_url}/embed.js" data-lang="{lang}" data-title="Ask the Assembly record"></script>
</body></html>""",
        "/frame": f"""<!doctype html><html><body><iframe id="direct" src="{server_url}/widget/"
 style="width:600px;height:400px"></iframe></body></html>""",
    }


@pytest.fixture(scope="module")
def widget_setup(start_server):
    """Two host origins on 127.0.0.1; the server lets only the first embed it."""
    allowed, refused = HostPages(), HostPages()
    server = start_server(embed_origins=f'["{allowed.origin}"]')
    allowed.pages = host_pages(server.url, "en")
    refused.pages = host_pages(server.url, "zh")
    yield server, allowed, refused
    allowed.close()
    refused.close()


def open_widget(page, host: HostPages):
    page.goto(host.origin + "/", wait_until="load")
    launcher = page.locator("[data-recordqa-widget] .launcher")
    launcher.click()
    panel = page.locator("[data-recordqa-widget] .panel")
    panel.wait_for(state="visible")
    return panel


def test_widget_on_an_allowed_origin_answers_with_clickable_citations(widget_setup, page_factory):
    _, allowed, _ = widget_setup
    page = page_factory("en-US")

    panel = open_widget(page, allowed)

    assert panel.locator(".title").inner_text() == "Ask the Assembly record"
    page.locator("[data-recordqa-widget] iframe").wait_for()
    frame = page.frame_locator("[data-recordqa-widget] iframe")
    frame.locator("#rq-question textarea").wait_for()
    inner = next(f for f in page.frames if "/widget/" in f.url)
    answer = ask(inner, "Who was elected President of the Assembly?")
    assert "Martha Delgado Peralta" in answer and "[¶3]" in answer
    screenshot(page, "widget-answer.png")
    viewer = open_citation(inner)
    assert "鼓掌方式" in viewer.locator('.rq-col[data-lang="zh"]').inner_text()
    # Nothing leaked into the host page: its own styles and globals are untouched.
    assert page.evaluate("getComputedStyle(document.querySelector('#own')).color") == "rgb(255, 0, 0)"
    assert page.evaluate("getComputedStyle(document.body).fontFamily") == "serif"
    assert page.evaluate("document.querySelectorAll('style, link[rel=stylesheet]').length") == 1
    assert page.evaluate("Object.keys(window).filter(k => /recordqa|rq/i.test(k))") == []
    screenshot(page, "widget-citation.png")
    assert local_only(page.requested) == []


def test_widget_on_an_origin_not_allowed_is_refused(widget_setup, page_factory):
    _, _, refused = widget_setup
    page = page_factory("zh-CN")

    panel = open_widget(page, refused)

    message = panel.locator(".message.refused")
    message.wait_for()
    assert "无权嵌入" in message.inner_text()
    assert page.locator("[data-recordqa-widget] iframe").count() == 0
    screenshot(page, "widget-refused.png")

    # Framing the chat directly, without the script's check, is refused by the browser (CSP).
    page.goto(refused.origin + "/frame", wait_until="load")
    page.wait_for_timeout(2000)
    framed = [f for f in page.frames if f != page.main_frame]
    assert framed and all(f.locator("#rq-question").count() == 0 for f in framed)


def test_widget_chat_view_frames_on_the_allowed_origin(widget_setup, page_factory):
    _, allowed, _ = widget_setup
    page = page_factory("en-US")

    page.goto(allowed.origin + "/frame", wait_until="load")

    frame = page.frame_locator("#direct")
    frame.locator("#rq-question textarea").wait_for()


def test_chat_login_when_configured(start_server, page_factory):
    server = start_server(ui_auth='["delegate:s3cret"]')
    page = page_factory("en-US")

    page.goto(server.url + "/chat/", wait_until="load")
    page.locator("input[type=password]").wait_for()
    assert page.locator("#rq-question").count() == 0
    page.locator("input[type=text]").first.fill("delegate")
    page.locator("input[type=password]").fill("wrong")
    page.locator("input[type=password]").press("Enter")
    page.get_by_text(re.compile("incorrect", re.I)).wait_for()
    assert page.locator("#rq-question").count() == 0

    page.locator("input[type=text]").first.fill("delegate")
    page.locator("input[type=password]").fill("s3cret")
    page.locator("input[type=password]").press("Enter")

    page.locator("#rq-question textarea").wait_for()
    assert "Martha Delgado Peralta" in ask(page, "Who was elected President of the Assembly?")


def test_rate_limit_is_a_clear_message_in_the_chat(start_server, page_factory):
    server = start_server(rate_limit_per_minute=2)
    page = page_factory("en-US")
    open_chat(page, server.url + "/chat/")
    ask(page, "Who was elected President of the Assembly?")
    ask(page, "Where was the session held?", answers_before=1)

    third = ask(page, "Who opened the session?", answers_before=2)

    assert re.fullmatch(r"Too many questions from you in the last minute; try again in \d+ s\.", third)


# --------------------------------------------------------------------------- a collection of records


@pytest.fixture(scope="module")
def collection_server(start_server, tmp_path_factory):
    """Two records (test_collection's), one with a symbol; the host page's widget names one of them."""
    from test_collection import write_records

    folder = write_records(tmp_path_factory.mktemp("browser-collection"))
    host = HostPages()
    server = start_server(records_dir=folder, embed_origins=f'["{host.origin}"]')
    host.pages = {"/": f"""<!doctype html><html><head><meta charset="utf-8"><title>Intranet</title></head>
<body><h1>Alpha Council documents</h1><script src="{server.url}/embed.js" data-lang="en" data-record="ALPHA-1">
</script></body></html>"""}
    yield server, host
    host.close()


def choose_record(page, name: str) -> None:
    page.locator("#rq-record input").click()
    page.get_by_role("option").filter(has_text=name).first.click()
    page.wait_for_function(f"() => document.querySelector('#rq-record input').value.includes({name!r})")


def test_record_selector_appears_with_two_records_and_restricts_answers(collection_server, server, page_factory):
    from test_collection import QUESTION, SYMBOL

    collection, host = collection_server
    page = page_factory("en-US")
    open_chat(page, collection.url + "/chat/")
    assert "All records" in page.locator("#rq-record input").input_value()
    assert "Ask 2 records" in page.locator("#rq-header").inner_text()

    assert "Alpha Council" in page.locator("#rq-examples").inner_text()

    choose_record(page, SYMBOL)
    # The examples follow the choice: BETA-2's own, from the examples.json beside it.
    page.wait_for_function("() => document.querySelector('#rq-examples').innerText"
                           ".includes('Who chaired the Beta Committee?')")
    assert "Alpha Council" not in page.locator("#rq-examples").inner_text()
    beta = ask(page, QUESTION)
    assert "Tomas Novak" in beta and f"[{SYMBOL} ¶1]" in beta and "Moreau" not in beta
    viewer = open_citation(page)
    assert "Report of the Beta Committee on its second session" in viewer.locator(".rq-viewer-meta").inner_text()
    assert SYMBOL in viewer.locator(".rq-viewer-title").inner_text()
    screenshot(page, "chat-collection.png")

    choose_record(page, "ALPHA-1")
    alpha = ask(page, QUESTION, answers_before=1)
    assert "Ines Moreau" in alpha and "[ALPHA-1 ¶1]" in alpha and "Novak" not in alpha

    # One record loaded: no selector, citations as before.
    single = page_factory("en-US")
    open_chat(single, server.url + "/chat/")
    assert single.locator("#rq-record").count() == 0 or not single.locator("#rq-record").is_visible()

    # The widget's data-record keeps it to that record, and its title comes from the record.
    widget = page_factory("en-US")
    panel = open_widget(widget, host)
    widget.locator("[data-recordqa-widget] iframe").wait_for()
    widget.wait_for_function("() => document.querySelector('[data-recordqa-widget]').shadowRoot"
                             ".querySelector('.title').textContent !== 'RecordQA'")
    assert panel.locator(".title").inner_text() == "Report of the Alpha Council on its first session"
    widget.frame_locator("[data-recordqa-widget] iframe").locator("#rq-question textarea").wait_for()
    inner = next(f for f in widget.frames if "/widget/" in f.url)
    answer = ask(inner, QUESTION)
    assert "Ines Moreau" in answer and "Novak" not in answer
    assert not inner.locator("#rq-record").is_visible()
