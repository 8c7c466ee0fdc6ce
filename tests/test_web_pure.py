"""The pure parts of the web layer, without a server: origin policy, rate limiter, answer markup,
sentence marking, interface language and the web question check."""

from __future__ import annotations

import re

import pytest
from pydantic import SecretStr

from qa.answer import Answer, Citation, QuestionError
from ui.clients import client_id, key_position
from ui.labels import interface_language
from ui.markup import answer_markdown, escape_text, pieces
from ui.origins import EmbedPolicy, OriginError, parse_origin
from ui.paragraph_view import marked_sentences
from ui.ratelimit import RateLimiter
from ui.service import check_web_question

# --------------------------------------------------------------------------- origins

DEFAULT = EmbedPolicy.from_setting(None)
CUSTOM = EmbedPolicy.from_setting(["http://127.0.0.1:9", "https://Intranet.Example", "http://[::1]:*",
                                   "https://a.example:443", "http://b.example:80/", " http://c.example:8080 "])

ORIGINS = [
    # (origin, allowed by DEFAULT, allowed by CUSTOM)
    ("http://localhost", True, False),
    ("http://localhost:80", True, False),
    ("http://localhost:5173", True, False),
    ("https://localhost:8443", True, False),
    ("http://127.0.0.1", True, False),
    ("http://127.0.0.1:9", True, True),
    ("http://127.0.0.1:10", True, False),
    ("https://127.0.0.1:9", True, False),
    ("http://127.0.0.2", False, False),
    ("http://localhost.evil.example", False, False),
    ("http://evil.example", False, False),
    ("http://evil.localhost:3000", False, False),
    ("http://127.0.0.1.evil.example:9", False, False),
    ("https://intranet.example", False, True),
    ("https://intranet.example:443", False, True),
    ("https://intranet.example:8443", False, False),
    ("http://intranet.example", False, False),
    ("http://[::1]:3000", False, True),
    ("http://[::1]", False, True),
    ("https://a.example", False, True),
    ("https://a.example:443", False, True),
    ("http://b.example", False, True),
    ("http://b.example:80", False, True),
    ("http://b.example:8080", False, False),
    ("http://c.example:8080", False, True),
    ("http://c.example", False, False),
    # Not what a browser sends: refused by both checks alike.
    ("http://127.0.0.1:9/", False, False),
    (" http://127.0.0.1:9", False, False),
    ("http://127.0.0.1:9\n", False, False),
    ("http://LOCALHOST:5173", False, False),
    ("HTTP://localhost:5173", False, False),
    ("http://localhost:*", False, False),
    ("http://127.0.0.1:*", False, False),
    ("http://localhost:", False, False),
    ("http://b.example:080", False, False),
    ("http://127.0.0.1:9/path", False, False),
    ("ftp://localhost", False, False),
    ("null", False, False),
    ("", False, False),
    (None, False, False),
]


@pytest.mark.parametrize(("origin", "by_default", "by_custom"), ORIGINS)
def test_allows_follows_scheme_host_and_port(origin, by_default, by_custom):
    assert DEFAULT.allows(origin) is by_default
    assert CUSTOM.allows(origin) is by_custom


@pytest.mark.parametrize("policy", [DEFAULT, CUSTOM, EmbedPolicy.from_setting([])], ids=["default", "custom", "none"])
def test_origin_regex_accepts_exactly_what_allows_accepts(policy):
    regex = re.compile(policy.origin_regex())
    extra = ["http://localhost:65535", "https://localhost", "http://127.0.0.1:443", "https://a.example:444"]

    for origin in [o for o, *_ in ORIGINS if o is not None] + extra + list(policy.patterns):
        # Starlette's CORSMiddleware matches allow_origin_regex with fullmatch.
        assert bool(regex.fullmatch(origin)) is policy.allows(origin), origin


def test_an_empty_list_allows_no_other_origin():
    policy = EmbedPolicy.from_setting([])

    assert not policy.allows("http://localhost:5173")
    assert not re.fullmatch(policy.origin_regex(), "")
    assert policy.frame_ancestors() == "frame-ancestors 'self'"


def test_frame_ancestors_lists_self_and_every_pattern():
    assert DEFAULT.frame_ancestors() == ("frame-ancestors 'self' http://localhost:* http://127.0.0.1:* "
                                         "https://localhost:* https://127.0.0.1:*")
    assert CUSTOM.patterns[-2:] == ("http://b.example:80", "http://c.example:8080")


@pytest.mark.parametrize("pattern", [
    "localhost:5173", "http://", "http://*.example.com", "http://a.example/path", "javascript:alert(1)",
    "http://a b.example", "http://a.example:abc", "http://a.example:123456", "*", "", "https://[::1",
    "http://a.example;script-src *",
])
def test_malformed_origin_setting_is_refused(pattern):
    with pytest.raises(OriginError, match="not an origin"):
        EmbedPolicy.from_setting(["http://ok.example", pattern])


def test_parse_origin():
    assert parse_origin("https://Intranet.Example:8443/") == ("https", "intranet.example", "8443")
    assert parse_origin("http://localhost:*") == ("http", "localhost", "*")
    assert parse_origin("http://[::1]") == ("http", "[::1]", None)


# --------------------------------------------------------------------------- rate limiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_budget_per_minute_then_the_wait_until_the_oldest_question_leaves_the_window():
    clock = Clock()
    limiter = RateLimiter(3, clock=clock)

    results = []
    for _ in range(3):
        results.append(limiter.check("ip:a"))
        clock.now += 10
    assert results == [None, None, None]
    assert limiter.check("ip:a") == pytest.approx(30.0)  # first at 1000, now 1030
    clock.now = 1059.9
    assert limiter.check("ip:a") == pytest.approx(0.1)
    clock.now = 1060.0
    assert limiter.check("ip:a") is None  # the first question left the window
    assert limiter.check("ip:a") == pytest.approx(10.0)  # second at 1010, now 1060


def test_refused_questions_do_not_use_up_the_budget():
    clock = Clock()
    limiter = RateLimiter(1, clock=clock)

    assert limiter.check("k") is None
    for _ in range(5):
        clock.now += 10
        assert limiter.check("k") is not None
    clock.now = 1060.0
    assert limiter.check("k") is None


def test_clients_have_independent_budgets():
    clock = Clock()
    limiter = RateLimiter(2, clock=clock)

    assert [limiter.check("key:a"), limiter.check("key:a")] == [None, None]
    assert limiter.check("key:a") is not None
    assert [limiter.check("key:b"), limiter.check("ip:127.0.0.1")] == [None, None]
    assert limiter.check("key:a") is not None


@pytest.mark.parametrize("per_minute", [0, -1])
def test_zero_turns_the_limit_off(per_minute):
    limiter = RateLimiter(per_minute, clock=Clock())

    assert all(limiter.check("ip:a") is None for _ in range(1000))


def test_idle_clients_are_forgotten():
    clock = Clock()
    limiter = RateLimiter(1, clock=clock)
    for i in range(10_001):
        limiter.check(f"ip:{i}")
    clock.now += 61

    limiter.check("ip:new")

    assert list(limiter._seen) == ["ip:new"]


def test_the_limiter_remembers_at_most_max_clients():
    clock = Clock()
    limiter = RateLimiter(1, clock=clock, max_clients=100)

    for i in range(1000):
        assert limiter.check(f"ip:{i}") is None

    assert len(limiter._seen) == 100
    assert limiter.check("ip:999") is not None  # the most recent clients keep their count


def test_client_is_the_configured_key_position_never_the_raw_token():
    keys = [SecretStr("k-one"), SecretStr("k-two")]

    assert client_id("k-two", keys, "10.0.0.1") == "key:1"
    assert client_id("k-three", keys, "10.0.0.1") == "ip:10.0.0.1"
    assert client_id("any-token", [], "10.0.0.1") == "ip:10.0.0.1"
    assert client_id(None, keys, None) == "ip:unknown"
    assert key_position("k-one", keys) == 0 and key_position("", keys) is None


# --------------------------------------------------------------------------- markup


def test_escape_text_neutralises_html_and_markdown():
    assert escape_text("<script>alert(1)</script>") == "&lt;script&gt;alert\\(1\\)&lt;/script&gt;"
    assert escape_text("[click](javascript:alert(1))") == "\\[click\\]\\(javascript:alert\\(1\\)\\)"
    assert escape_text("![x](http://e/x.png) **bold** _i_ `code` # h | t ~s~") == (
        "\\!\\[x\\]\\(http://e/x.png\\) \\*\\*bold\\*\\* \\_i\\_ \\`code\\` \\# h \\| t \\~s\\~")
    assert escape_text("A & B") == "A &amp; B"
    assert escape_text("人居大会第一届会议") == "人居大会第一届会议"


def answer(text: str, *citations: tuple[str, str], abstained: bool = False, notices=(),
           standalone: str | None = None) -> Answer:
    return Answer(question="q", answer=text, abstained=abstained,
                  citations=[Citation(paragraph=p, record=r, quote="...") for p, r in citations],
                  mode="extractive", lang="en", notices=list(notices), standalone_question=standalone)


def link(record: str, number: str) -> str:
    """A citation as the chat shows it: the literal text [¶N] linking to the paragraph viewer."""
    return f"[\\[¶{number}\\]](#para={record}:{number})"


def test_citations_become_paragraph_links():
    result = answer_markdown(answer("Elected by acclamation [¶3]. Seats: 36 [¶44].",
                                    ("3", "HSP-HA-1"), ("44", "HSP-HA-1")), "en")

    assert result == f"Elected by acclamation {link('HSP-HA-1', '3')}. Seats: 36 {link('HSP-HA-1', '44')}."


def test_citation_naming_its_record_links_to_that_record():
    result = answer_markdown(answer("A [¶OTHER-1:7] B [¶3]", ("3", "HSP-HA-1")), "en")

    # A marker naming its record shows the record (several records are loaded); a bare one does not.
    assert result == f"A [\\[OTHER-1 ¶7\\]](#para=OTHER-1:7) B {link('HSP-HA-1', '3')}"


def test_answer_text_around_citations_is_escaped():
    result = answer_markdown(answer("<b>x</b> [a](http://evil) [¶3]", ("3", "HSP-HA-1")), "en")

    assert result == f"&lt;b&gt;x&lt;/b&gt; \\[a\\]\\(http://evil\\) {link('HSP-HA-1', '3')}"


@pytest.mark.parametrize(("ui_lang", "prefix"), [("en", "**No answer from the record** · "),
                                                  ("zh", "**记录中没有答案** · ")])
def test_abstentions_are_marked(ui_lang, prefix):
    abstention = answer("The record has not yet filled in [¶27].", abstained=True)

    assert answer_markdown(abstention, ui_lang, "HSP-HA-1") == (
        prefix + f"The record has not yet filled in {link('HSP-HA-1', '27')}.")
    # Without a record to point to, the paragraph number stays literal text, not a broken link.
    assert answer_markdown(abstention, ui_lang) == prefix + "The record has not yet filled in \\[¶27\\]."


@pytest.mark.parametrize(("ui_lang", "prefix"), [
    ("en", "**Not stated directly in the record; closest passages** · "),
    ("zh", "**记录没有直接说明；最相关的段落** · ")])
def test_the_closest_passages_are_marked_apart_from_answers_and_abstentions(ui_lang, prefix):
    closest = answer("The record does not state this directly. The closest passages: Seats: 36 [¶44]",
                     ("44", "HSP-HA-1"), abstained=True)
    closest.outcome = "indirect"

    assert answer_markdown(closest, ui_lang) == (
        prefix + f"The record does not state this directly. The closest passages: Seats: 36 {link('HSP-HA-1', '44')}")


def test_notices_are_quoted_but_dense_notice_is_not():
    result = answer_markdown(answer("x [¶3]", ("3", "R"), notices=[
        "dense retrieval is off: no model", "LLM timed out; showing the *extractive* answer instead"]), "en")

    assert result == f"x {link('R', '3')}\n\n> LLM timed out; showing the \\*extractive\\* answer instead"


def test_follow_up_shows_the_question_as_searched():
    result = answer_markdown(answer("x [¶3]", ("3", "R"), standalone="Who was elected? <b>And when?</b>"), "zh")

    assert result == f"x {link('R', '3')}\n\n> 检索问题：Who was elected? &lt;b&gt;And when?&lt;/b&gt;"


LINK = re.compile(r"\[\\\[¶\d+\\\]\]\(#para=[^)]*\)")
EN_ANSWER = ("At its 1st plenary meeting, the Assembly elected Ms. Martha Delgado Peralta (Mexico) by acclamation "
             "as President of the Assembly at its first session. [¶3] A second sentence with a few more words.[¶44]")
ZH_ANSWER = ("在第 1 次全体会议上，人居大会以鼓掌方式选举 Martha Delgado Peralta 女士（墨西哥）"
             "为人居大会第一届会议主席。 [¶3]又一句[¶45]。")


@pytest.mark.parametrize("text", [
    answer_markdown(answer(EN_ANSWER, ("3", "HSP-HA-1"), ("44", "HSP-HA-1")), "en"),
    answer_markdown(answer(ZH_ANSWER, ("3", "HSP-HA-1"), ("45", "HSP-HA-1")), "zh"),
    answer_markdown(answer("The record has not yet filled in [¶27].", abstained=True), "en", "HSP-HA-1"),
    EN_ANSWER,
    "short",
    "  leading and trailing spaces  \n",
])
@pytest.mark.parametrize("size", [1, 3, 12])
def test_pieces_join_back_and_never_cut_a_citation_link(text, size):
    parts = pieces(text, size=size)

    assert "".join(parts) == text
    cuts = [len("".join(parts[:i])) for i in range(1, len(parts))]
    for found in LINK.finditer(text):
        assert not [c for c in cuts if found.start() < c < found.end()], (found.group(), parts)
    if size == 1 and len(text) > 20:
        assert len(parts) > 3  # really cut, so the chat shows the answer growing


def test_pieces_of_nothing():
    assert pieces("") == [""]


# --------------------------------------------------------------------------- sentence marking


SENTENCES = [
    "In her opening statement, Ms. Delgado Peralta said that she was honoured to have been elected President.",
    "She would spare no effort in working with all participants.",
    "The theme of the session was in keeping with recent urbanization trends.",
]


def test_the_quoted_sentence_is_marked():
    assert marked_sentences(SENTENCES, SENTENCES[1]) == [False, True, False]


def test_a_restated_claim_marks_its_best_match():
    assert marked_sentences(SENTENCES, "The session's theme matched urbanization trends") == [False, False, True]


def test_chinese_claim_is_matched_by_character_bigrams():
    sentences = ["在第 1 次全体会议上，人居大会以鼓掌方式选举主席。", "开幕式上播放了视频短片。"]

    assert marked_sentences(sentences, "人居大会以鼓掌方式选举主席") == [True, False]


@pytest.mark.parametrize("claim", ["", "   ", "Completely unrelated words about football"])
def test_nothing_is_marked_without_a_matching_claim(claim):
    assert marked_sentences(SENTENCES, claim) == [False, False, False]


def test_no_sentences():
    assert marked_sentences([], "anything") == []


# --------------------------------------------------------------------------- interface language


@pytest.mark.parametrize(("requested", "accept", "expected"), [
    ("zh", None, "zh"),
    ("en", "zh-CN,zh;q=0.9", "en"),
    ("zh", "en-GB,en;q=0.9", "zh"),
    ("fr", "zh-CN,zh;q=0.9", "zh"),
    (None, "zh-TW,zh;q=0.9,en;q=0.8", "zh"),
    (None, "zh-CN", "zh"),
    (None, "en-GB,en;q=0.9", "en"),
    (None, "fr-FR,fr;q=0.9,zh;q=0.5", "zh"),
    (None, "fr-FR,de;q=0.9", "en"),
    (None, "", "en"),
    (None, None, "en"),
    ("", "ZH-hk", "zh"),
])
def test_interface_language(requested, accept, expected):
    assert interface_language(requested, accept) == expected


# --------------------------------------------------------------------------- web question check


@pytest.mark.parametrize("question", [
    "谁当选为人居大会第一届会议主席？",
    "Who was elected President?",
    "Was growth less than <5% a year?",
    "Is GDP < Mexico's?",  # a bare '<' before a space starts no tag in HTML

    "Line one\nline two\twith a tab",
    "",  # emptiness is the answerer's check, with its own message
])
def test_plain_questions_pass_unchanged(question):
    assert check_web_question(question) == question


@pytest.mark.parametrize(("question", "message"), [
    (42, "the question must be a string"),
    (None, "the question must be a string"),
    (["who"], "the question must be a string"),
    ("who\x00", "control characters"),
    ("who \x1b[31m", "control characters"),
    ("who\x7f", "control characters"),
    ("who\x85", "control characters"),
    ("<script>alert(1)</script>", "HTML or script markup"),
    ("<img src=x onerror=alert(1)>", "HTML or script markup"),
    ("text </p>", "HTML or script markup"),
    ("<!-- comment -->", "HTML or script markup"),
])
def test_markup_and_control_characters_are_refused(question, message):
    with pytest.raises(QuestionError, match=re.escape(message)):
        check_web_question(question)
