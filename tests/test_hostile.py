"""The server under hostile or broken clients, and what it tells its operator.

Servers here are uvicorn in a thread, configured by ``ui.serving.server_config`` exactly as
`recordqa serve` is (one answerer, loaded once, shared by every app of this module); the access
log check uses the real `recordqa serve` subprocess of conftest.py. Every socket is on 127.0.0.1.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import schemathesis
from fastapi import WebSocket
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

QUESTION_EN = "Who was elected President of the Assembly?"
GENEROUS_S = 30  # "does not hang forever", never a timing claim


# --------------------------------------------------------------------------- servers in threads


class ThreadServer:
    """Without the chat: Gradio built in this process leaves an event loop unclosed. The chat's
    routes are checked on the `recordqa serve` subprocess instead."""

    def __init__(self, app_settings, answerer):
        import uvicorn

        from ui.app import create_app
        from ui.serving import server_config

        self.app = create_app(app_settings, answerer, with_chat=False)
        self.server = uvicorn.Server(server_config(app_settings, self.app))
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(2048)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def start(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + GENEROUS_S
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "server did not start"
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=GENEROUS_S)

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=GENEROUS_S, **kwargs)

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=GENEROUS_S)
        return sock


@pytest.fixture(scope="module")
def answerer(built_index):
    from recordqa.factories import make_answerer, make_tokenizer

    return make_answerer(built_index, tokenizer=make_tokenizer(built_index), embedders=[], dense=None)


@pytest.fixture(scope="module")
def serve(built_index, answerer):
    """serve(**settings) -> a started ThreadServer over the session's index."""
    started: list[ThreadServer] = []

    def start(**overrides) -> ThreadServer:
        values = {"rate_limit_per_minute": 10_000, **overrides}
        app_settings = type(built_index)(**{**built_index.model_dump(), **values})
        server = ThreadServer(app_settings, answerer).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def plain(serve):
    """Default settings, no chat."""
    return serve()


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response read off a raw socket (the server closes after it, or sends Content-Length)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return status, headers, body


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed the connection (read returns EOF or a reset)."""
    try:
        while True:
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def assert_json_error(status: int, headers: dict[str, str], body: bytes, expected: int, code: str) -> dict:
    assert status == expected, (status, body)
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert set(error) == {"message", "type", "code"} and error["code"] == code, error
    return error


# --------------------------------------------------------------------------- slow and idle clients


def test_hundreds_of_idle_sockets_do_not_lock_out_a_new_client(serve):
    server = serve(max_connections=20, header_timeout_s=600)
    idle = [server.connect() for _ in range(300)]
    for sock in idle[::2]:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # half of them trickle headers they never finish

    with server.client() as client:
        answer = client.post("/api/ask", json={"question": QUESTION_EN})

    assert answer.status_code == 200 and answer.json()["citations"]
    for sock in idle:
        sock.settimeout(GENEROUS_S)
    # The server keeps at most max_connections open: it dropped the longest-idle ones to make room.
    assert sum(closed_by_server(sock) for sock in idle[:250]) == 250
    for sock in idle:
        sock.close()


def test_unfinished_headers_are_cut_off_after_the_header_timeout(serve):
    server = serve(header_timeout_s=0.5)
    with server.connect() as sock:
        sock.sendall(b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n")

        assert closed_by_server(sock)


def test_silent_connection_is_closed_after_the_header_timeout(serve):
    server = serve(header_timeout_s=0.5)
    with server.connect() as sock:
        assert closed_by_server(sock)


def test_a_websocket_outlives_the_header_timeout(built_index, answerer):
    from websockets.sync.client import connect

    app_settings = type(built_index)(**{**built_index.model_dump(), "header_timeout_s": 0.3})
    server = ThreadServer(app_settings, answerer)

    async def echo(websocket: WebSocket):
        await websocket.accept()
        while True:
            await websocket.send_text(await websocket.receive_text())

    server.app.add_api_websocket_route("/echo", echo)
    server.start()
    try:
        with connect(f"ws://127.0.0.1:{server.port}/echo", open_timeout=GENEROUS_S) as websocket:
            time.sleep(1.0)  # past the header timeout of the connection it was upgraded from
            websocket.send("still here")

            assert websocket.recv(timeout=GENEROUS_S) == "still here"
    finally:
        server.stop()


def test_body_slower_than_the_body_timeout_gets_408_and_is_closed(serve):
    server = serve(body_timeout_s=0.5)
    with server.connect() as sock:
        sock.sendall(b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n" + b'{"question": "Who')  # 17 of 1000 bytes

        status, headers, body = read_response(sock)

        error = assert_json_error(status, headers, body, 408, "body_timeout")
        assert error["message"] == "the request body did not arrive within 0.5 s"
        assert headers["connection"] == "close" and closed_by_server(sock)


def test_oversized_headers_are_refused(serve):
    server = serve(max_header_bytes=4096)
    with server.connect() as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: " + b"a" * 20_000 + b"\r\n\r\n")

        status, headers, body = read_response(sock)

    assert_json_error(status, headers, body, 431, "headers_too_large")
    with server.client() as client:
        assert client.get("/api/paragraphs/3").status_code == 200


def test_an_unread_body_larger_than_the_header_cap_does_not_break_the_next_request(plain):
    with plain.connect() as sock:
        # The route refuses the method without reading the 30 kB body; the next request follows it.
        sock.sendall(b"DELETE /api/ask HTTP/1.1\r\nHost: x\r\nContent-Length: 30000\r\n\r\n" + b"x" * 30_000
                     + b"GET /api/paragraphs/3 HTTP/1.1\r\nHost: x\r\n\r\n")

        first = read_response(sock)
        second = read_response(sock)

    assert first[0] == 405
    assert second[0] == 200 and json.loads(second[2])["id"] == "3"


def test_requests_past_the_in_flight_cap_get_503_but_metrics_still_answer(serve):
    server = serve(max_requests_in_flight=1, body_timeout_s=600)
    with server.connect() as slow, server.client() as client:
        # A request whose body never comes holds the one slot.
        slow.sendall(b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 50\r\n\r\n{")
        deadline = time.monotonic() + GENEROUS_S
        while (refused := client.get("/api/paragraphs/3")).status_code == 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)

        assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
        assert refused.json()["error"]["code"] == "overloaded"
        assert client.get("/metrics").status_code == 200


# --------------------------------------------------------------------------- body size


def test_a_declared_200_mb_body_gets_413_before_it_is_sent(plain):
    with plain.connect() as sock:
        # Only the headers go out: the answer can only come from Content-Length.
        sock.sendall(b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 200000000\r\n\r\n")

        status, headers, body = read_response(sock)

    error = assert_json_error(status, headers, body, 413, "body_too_large")
    assert error["message"] == "the request body is larger than the limit of 262144 bytes"


def send_chunked(sock: socket.socket, path: str, chunks: int) -> None:
    sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 "Transfer-Encoding: chunked\r\n\r\n".encode())
    for _ in range(chunks):
        sock.sendall(b"3e8\r\n" + b"x" * 1000 + b"\r\n")  # 1000-byte chunks, never a last one


@pytest.mark.parametrize("path", ["/api/ask", "/v1/chat/completions"])
def test_a_chunked_body_is_cut_off_at_the_limit(serve, path):
    server = serve(max_body_bytes=4096)
    with server.connect() as sock:
        send_chunked(sock, path, 6)

        status, headers, body = read_response(sock)

    assert_json_error(status, headers, body, 413, "body_too_large")


def test_a_chunked_body_to_the_chat_is_cut_off_at_the_limit(server):
    with socket.create_connection(("127.0.0.1", int(server.url.rsplit(":", 1)[1])), timeout=GENEROUS_S) as sock:
        send_chunked(sock, "/chat/gradio_api/queue/join", 270)  # past the default 256 KiB

        status, headers, body = read_response(sock)

    assert_json_error(status, headers, body, 413, "body_too_large")


# --------------------------------------------------------------------------- caps on what reaches the answer path


def test_openai_earlier_turns_over_the_cap_are_refused(plain):
    with plain.client() as client:
        huge = client.post("/v1/chat/completions", json={"messages": [
            {"role": "user", "content": "x" * 1_000_000}, {"role": "user", "content": QUESTION_EN}]})
        long = client.post("/v1/chat/completions", json={"messages": [
            {"role": "assistant", "content": "y" * 100_000}, {"role": "user", "content": QUESTION_EN}]})
        parts = client.post("/v1/chat/completions", json={"messages": [
            {"role": "user", "content": [{"type": "text", "text": "z" * 15_000}] * 2},
            {"role": "user", "content": QUESTION_EN}]})

    assert huge.status_code == 413 and huge.json()["error"]["code"] == "body_too_large"
    assert long.status_code == 413 and long.json()["error"]["code"] == "too_long"
    assert "messages.0.content" in long.json()["error"]["message"]
    assert parts.status_code == 413 and parts.json()["error"]["code"] == "too_long"


def test_api_history_turn_over_the_cap_is_refused(plain):
    with plain.client() as client:
        response = client.post("/api/ask", json={"question": QUESTION_EN,
                                                 "history": [{"role": "user", "content": "x" * 30_000}]})

    assert response.status_code == 413 and response.json()["error"]["code"] == "too_long"
    assert "history.0.content" in response.json()["error"]["message"]


def test_openai_long_conversation_is_answered_from_its_last_turns(plain):
    earlier = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"turn {i}"} for i in range(98)]
    with plain.client() as client:
        response = client.post("/v1/chat/completions", json={"messages": [
            *earlier, {"role": "user", "content": QUESTION_EN}]})

    assert response.status_code == 200
    assert response.json()["citations"][0]["paragraph"] == "3"


# --------------------------------------------------------------------------- rate limit


def test_random_tokens_do_not_buy_fresh_budgets_when_no_keys_are_configured(serve):
    server = serve(rate_limit_per_minute=5)
    with server.client() as client:
        statuses = [client.post("/api/ask", json={"question": QUESTION_EN},
                                headers={"Authorization": f"Bearer {uuid.uuid4().hex}"} if i % 2 else
                                {"X-API-Key": uuid.uuid4().hex}).status_code for i in range(20)]

    assert statuses == [200] * 5 + [429] * 15


def test_each_configured_key_has_its_own_budget(serve):
    server = serve(rate_limit_per_minute=2, api_keys=["k-one", "k-two"])
    with server.client() as client:
        one = [client.post("/api/ask", json={"question": QUESTION_EN}, headers={"X-API-Key": "k-one"}).status_code
               for _ in range(3)]
        two = client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": QUESTION_EN}]},
                          headers={"Authorization": "Bearer k-two"})

    assert one == [200, 200, 429]
    assert two.status_code == 200


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(serve):
    untrusted = serve(rate_limit_per_minute=2)
    trusted = serve(rate_limit_per_minute=2, trusted_proxies=["127.0.0.0/8"])

    def statuses(server: ThreadServer, addresses: list[str]) -> list[int]:
        with server.client() as client:
            return [client.post("/api/ask", json={"question": QUESTION_EN},
                                headers={"X-Forwarded-For": address}).status_code for address in addresses]

    assert statuses(untrusted, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) == [200, 200, 429]
    assert statuses(trusted, ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.1", "10.0.0.1"]) == [200] * 4 + [429]


def test_untrusted_proxy_setting_is_refused_at_start(built_index):
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        type(built_index)(**{**built_index.model_dump(), "trusted_proxies": ["10.0.0.0/33"]})


# --------------------------------------------------------------------------- the chat's upload route


@pytest.mark.parametrize("path", ["/chat/gradio_api/upload", "/widget/gradio_api/upload", "/chat/upload",
                                  "/chat/gradio_api/upload?upload_id=x", "/widget/gradio_api/upload_progress",
                                  "/chat/gradio_api/UPLOAD"])
def test_the_chat_upload_routes_are_closed(server, path):
    with httpx.Client(base_url=server.url, timeout=GENEROUS_S) as client:
        posted = client.post(path, files={"files": ("note.txt", b"hello" * 1000, "text/plain")})
        fetched = client.get(path)

    for response in (posted, fetched):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["code"] == "http_error"
        assert "/tmp" not in response.text and "gradio" not in response.text.split("endpoint:")[0]


@pytest.mark.parametrize("body", [b'{"data": "\xe7\x1a\xff"}', b'{"messages": [{"role": "x", "text": "\\ud800"}]}'],
                         ids=["not-utf8", "lone-surrogate"])
def test_a_body_gradio_would_fail_on_is_refused_before_the_chat_sees_it(server, body):
    with httpx.Client(base_url=server.url, timeout=GENEROUS_S) as client:
        response = client.post("/chat/gradio_api/queue/join", content=body, headers={"Content-Type": "text/plain"})

    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_body"
    assert "Traceback" not in server.stderr


def test_the_chat_still_loads_with_uploads_closed(server):
    with httpx.Client(base_url=server.url, timeout=GENEROUS_S) as client:
        assert client.get("/chat/").status_code == 200
        assert client.get("/widget/config").status_code == 200


# --------------------------------------------------------------------------- the OpenAPI document


def test_openapi_documents_every_error_in_the_one_shape(plain):
    with plain.client() as client:
        spec = client.get("/openapi.json").json()

    ask = spec["paths"]["/api/ask"]["post"]
    assert set(ask["responses"]) == {"200", "400", "401", "408", "413", "422", "429", "503"}
    assert ask["responses"]["429"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorBody"}
    assert set(spec["paths"]["/api/paragraphs/{paragraph_id}"]["get"]["responses"]) >= {"404", "503"}
    assert set(spec["paths"]["/v1/models"]["get"]["responses"]) >= {"401", "503"}
    chat = spec["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert set(chat["200"]["content"]) == {"application/json", "text/event-stream"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert spec["components"]["schemas"]["AskRequest"]["properties"]["question"]["minLength"] == 1


CONTRACT = {"POST /api/ask", "POST /api/ask/stream", "GET /api/paragraphs/{paragraph_id}", "GET /v1/models",
            "POST /v1/chat/completions"}
"""The question-answering API whose agreement with the document this module holds."""


def conforms(operation, checks: list, failures: list[str]) -> None:
    """Run a few generated requests against ``operation``; add each disagreement to ``failures``."""

    @given(case=operation.as_strategy())
    @settings(max_examples=12, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case):
        try:
            case.call_and_validate(checks=checks)
        except Exception as exc:  # collected so one run names every operation that disagrees
            failures.append(f"{operation.label}: {exc}")

    run()


def test_the_api_agrees_with_its_openapi_document(serve):
    app = serve().app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).include(path_regex=r"^/(api|v1)/")
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    operations = [result.ok() for result in schema.get_all_operations() if result.ok().label in CONTRACT]
    assert {operation.label for operation in operations} == CONTRACT
    failures = []
    for operation in operations:
        conforms(operation, checks, failures)
    assert failures == []


# --------------------------------------------------------------------------- metrics and the access log


def test_metrics_count_requests_by_route_template_and_refusals(serve):
    server = serve(rate_limit_per_minute=1)
    with server.client() as client:
        for paragraph in ("3", "45", "99"):
            client.get(f"/api/paragraphs/{paragraph}")
        client.get(f"/no/such/{uuid.uuid4().hex}")
        client.post("/api/ask", json={"question": QUESTION_EN})
        client.post("/api/ask", json={"question": QUESTION_EN})
        scrapes = [client.get("/metrics") for _ in range(3)]

    assert [s.status_code for s in scrapes] == [200] * 3
    assert scrapes[-1].headers["content-type"].startswith("text/plain; version=")
    text = scrapes[-1].text
    assert 'recordqa_http_requests_total{method="GET",route="/api/paragraphs/{paragraph_id}",status="200"} 2.0' in text
    assert 'recordqa_http_requests_total{method="GET",route="/api/paragraphs/{paragraph_id}",status="404"} 1.0' in text
    assert 'recordqa_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in text
    assert 'recordqa_http_requests_total{method="POST",route="/api/ask",status="429"} 1.0' in text
    assert 'recordqa_refusals_total{reason="rate_limited"} 1.0' in text
    assert 'recordqa_http_request_duration_seconds_count{method="POST",route="/api/ask"} 2.0' in text
    assert re.search(r"^recordqa_index_build_age_seconds \d", text, re.M)


def test_each_app_counts_only_its_own_requests(serve):
    first, second = serve(), serve()
    with first.client() as a, second.client() as b:
        for _ in range(3):
            a.get("/api/paragraphs/3")
        text = b.get("/metrics").text

    assert 'route="/api/paragraphs/{paragraph_id}"' not in text


def test_metrics_count_answers_and_abstentions(serve):
    server = serve()
    with server.client() as client:
        answered = client.post("/api/ask", json={"question": QUESTION_EN}).json()
        with client.stream("POST", "/api/ask/stream", json={"question": QUESTION_EN}) as stream:
            stream.read()
        text = client.get("/metrics").text

    outcome = "abstained" if answered["abstained"] else "answered"
    assert f'recordqa_answers_total{{mode="extractive",outcome="{outcome}"}} 2.0' in text


def test_access_log_has_one_line_per_request_without_the_question(server):
    marker = uuid.uuid4().hex
    with httpx.Client(base_url=server.url, timeout=GENEROUS_S) as client:
        client.post("/api/ask", json={"question": f"Who chaired {marker}?"})
        client.get("/api/paragraphs/3", params={"highlight": marker})

    deadline = time.monotonic() + GENEROUS_S
    while "GET /api/paragraphs/{paragraph_id} 200 " not in server.stderr:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert re.search(r"^POST /api/ask 200 \d+\.\dms 127\.0\.0\.1$", server.stderr, re.M)
    assert marker not in server.stderr


def test_access_log_names_the_question_when_asked_to(serve, caplog):
    server = serve(log_questions=True)
    with caplog.at_level(logging.INFO, logger="recordqa.access"), server.client() as client:
        client.post("/api/ask", json={"question": "Who chaired\nthe Assembly?"})
        client.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "谁当选为主席？"}]})

        # The line is written once the response is out: wait for it.
        deadline = time.monotonic() + GENEROUS_S
        while len(lines := [r.getMessage() for r in caplog.records if r.name == "recordqa.access"]) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert any(line.startswith("POST /api/ask 200 ") and line.endswith(' question="Who chaired\\nthe Assembly?"')
               for line in lines), lines
    assert any(line.endswith(' question="谁当选为主席？"') for line in lines), lines


# --------------------------------------------------------------------------- still serving


def test_fifty_concurrent_clients_all_get_answers(plain):
    with plain.client(limits=httpx.Limits(max_connections=50)) as client, ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(lambda _: client.post("/api/ask", json={"question": QUESTION_EN}), range(50)))

    assert [r.status_code for r in responses] == [200] * 50
