"""The transport's rules on scripted answers (httpx.MockTransport, no server): what the real stack cannot be made to do on cue."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import httpx
import pytest

from drover import (
    APIConnectionError,
    APITimeoutError,
    AsyncDrover,
    AuthenticationError,
    ConflictError,
    Drover,
    DroverError,
    DroverResponseError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    Result,
    ServerError,
    ValidationError,
    WaitTimeoutError,
)
from drover._transport import parse_retry_after

BATCH_LIST = {"object": "list", "data": [], "next_cursor": None}


def scripted(answers: list[Callable[[httpx.Request], httpx.Response]]) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return answers[min(len(seen) - 1, len(answers) - 1)](request)

    return httpx.MockTransport(handler), seen


def answer(status: int, body: object = None, headers: dict[str, str] | None = None) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json=body, headers=headers)


def error(status: int, type: str = "internal_error") -> Callable[[httpx.Request], httpx.Response]:
    return answer(status, {"error": {"type": type, "message": f"scripted {status}"}})


def scripted_client(answers: list, **kwargs) -> tuple[Drover, list[httpx.Request]]:
    transport, seen = scripted(answers)
    http = httpx.Client(transport=transport)
    return Drover("http://drover.test", api_key="k", retry_base_delay=0.01, http_client=http, **kwargs), seen


def test_a_retry_after_is_waited_out_and_every_attempt_carries_the_same_request_id() -> None:
    client, seen = scripted_client(
        [
            lambda r: httpx.Response(429, json={"error": {"type": "quota_exceeded", "message": "slow down"}}, headers={"retry-after": "1"}),
            answer(200, BATCH_LIST),
        ]
    )
    started = time.monotonic()
    assert client.batches.list().data == []
    assert time.monotonic() - started >= 1.0
    assert len(seen) == 2
    assert seen[0].headers["x-request-id"] == seen[1].headers["x-request-id"]
    assert seen[0].headers["authorization"] == "Bearer k"


def test_5xx_and_connection_errors_are_retried_then_raised() -> None:
    client, seen = scripted_client([error(503), error(500), answer(200, BATCH_LIST)])
    assert client.batches.list().next_cursor is None
    assert len(seen) == 3

    client, seen = scripted_client([error(502)], max_retries=2)
    with pytest.raises(ServerError) as failed:
        client.batches.list()
    assert failed.value.status == 502 and len(seen) == 3

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client, seen = scripted_client([refuse], max_retries=1)
    with pytest.raises(APIConnectionError):
        client.batches.list()
    assert len(seen) == 2

    client, seen = scripted_client([error(400, "invalid_request")])
    with pytest.raises(Exception) as refused:
        client.batches.list()
    assert refused.value.status == 400 and len(seen) == 1, "a 4xx is never retried"


def test_what_cannot_be_sent_twice_is_attempted_once() -> None:
    batch_answer = error(503)
    client, seen = scripted_client([batch_answer])
    with pytest.raises(ServerError):
        client.batches.submit_ndjson(({"id": str(i), "content": "x"} for i in range(3)), model="m")
    assert len(seen) == 1, "an iterator of items is not replayed"
    client, seen = scripted_client([batch_answer], max_retries=1)
    with pytest.raises(ServerError):
        client.batches.submit_ndjson([{"id": "a", "content": "x"}], model="m")
    assert len(seen) == 2 and seen[0].content == seen[1].content == b'{"id":"a","content":"x"}\n'
    assert seen[0].url.params["idempotency_key"] == seen[1].url.params["idempotency_key"]
    client, seen = scripted_client([batch_answer])
    with pytest.raises(ServerError):
        client.keys.create(tenant="t", name="n", scopes=["admin"])
    assert len(seen) == 1, "keys.create is never retried"


def test_a_2xx_that_is_not_the_documented_shape_is_a_response_error() -> None:
    client, _ = scripted_client([lambda r: httpx.Response(200, text="<html>")])
    with pytest.raises(DroverResponseError, match="not JSON"):
        client.batches.list()
    client, _ = scripted_client([answer(200, {"object": "list", "data": [{"id": 3}], "next_cursor": None})])
    with pytest.raises(DroverResponseError) as wrong:
        client.batches.list()
    assert any(i.path.startswith("data.0") for i in wrong.value.issues)


def test_retry_after_as_seconds_or_an_http_date() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None


async def test_the_async_client_retries_the_same_way() -> None:
    transport, seen = scripted([error(503), answer(200, BATCH_LIST)])
    async with AsyncDrover(
        "http://drover.test", api_key="k", retry_base_delay=0.01, http_client=httpx.AsyncClient(transport=transport)
    ) as c:
        assert (await c.batches.list()).data == []
    assert len(seen) == 2


@pytest.mark.parametrize(
    ("status", "kind", "cls"),
    [
        (400, "invalid_request", ValidationError),
        (422, "invalid_request", ValidationError),
        (413, "body_too_large", PayloadTooLargeError),
        (401, "authentication_error", AuthenticationError),
        (403, "permission_error", PermissionDeniedError),
        (404, "not_found", NotFoundError),
        (409, "batch_ended", ConflictError),
        (418, "teapot", DroverError),
    ],
)
def test_4xx_answers_map_to_their_classes_and_are_not_retried(status: int, kind: str, cls: type) -> None:
    body = {"error": {"type": kind, "message": "no", "issues": [{"path": "items[2].content", "message": "required", "line": 3}]}}
    client, seen = scripted_client([lambda r: httpx.Response(status, json=body, headers={"x-request-id": "req-1"})])
    with pytest.raises(cls) as caught:
        client.batches.retrieve("b")
    assert type(caught.value) is cls
    assert (caught.value.status, caught.value.type, caught.value.request_id) == (status, kind, "req-1")
    assert caught.value.issues[0].path == "items[2].content" and caught.value.issues[0].line == 3
    assert len(seen) == 1
    client, _ = scripted_client([lambda r: httpx.Response(status, text="<html>proxy</html>")])
    with pytest.raises(cls) as plain:
        client.batches.retrieve("b")
    assert plain.value.type == "http_error" and "proxy" in plain.value.message


def test_a_submit_without_a_key_gets_one_that_every_retry_carries() -> None:
    client, seen = scripted_client([error(502), error(502), answer(503)], max_retries=2)
    with pytest.raises(ServerError):
        client.batches.submit(model="m", items=["x"])
    keys = {json.loads(r.content)["idempotency_key"] for r in seen}
    assert len(seen) == 3 and len(keys) == 1 and next(iter(keys)).startswith("drover-client-")
    client, seen = scripted_client([error(502)], max_retries=0)
    with pytest.raises(ServerError):
        client.batches.submit(model="m", items=["x"], idempotency_key="mine")
    assert b'"idempotency_key":"mine"' in seen[0].content


def test_connection_errors_and_silence_are_connection_errors() -> None:
    def silent(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    client, seen = scripted_client([silent], max_retries=1)
    with pytest.raises(APITimeoutError) as timed_out:
        client.batches.list()
    assert isinstance(timed_out.value, APIConnectionError) and len(seen) == 2


def test_results_reads_lines_split_anywhere_and_checks_each_row() -> None:
    row = {"id": "é1", "status": "succeeded", "output": {"t": "ünï"}, "error": None, "usage": None, "cost_usd": 0, "path": "batch"}
    body = (json.dumps({**row, "metadata": None}, ensure_ascii=False) + "\r\n") * 3
    data = body.encode()
    pieces = [data[i : i + 7] for i in range(0, len(data), 7)]  # splits inside multi-byte characters too
    client, _ = scripted_client([lambda r: httpx.Response(200, content=iter(pieces))])
    rows = list(client.batches.results("b"))
    assert [r.id for r in rows] == ["é1"] * 3 and all(isinstance(r, Result) and r.output == {"t": "ünï"} for r in rows)

    cut = data[: len(data) - 10]
    client, _ = scripted_client([lambda r: httpx.Response(200, content=cut)])
    with pytest.raises(DroverResponseError, match="line 3"):
        list(client.batches.results("b"))
    client, _ = scripted_client([lambda r: httpx.Response(200, content=b'{"id": 1}\n')])
    with pytest.raises(DroverResponseError, match="line 1"):
        list(client.batches.results("b"))


def batch_body(status: str, completed_at: str | None = None) -> dict:
    usage = {"input_tokens": 0, "cached_input_tokens": 0, "output_tokens": 0, "reasoning_tokens": 0}
    return {
        "id": "batch_1",
        "object": "batch",
        "status": status,
        "model": "m",
        "provider": "openai",
        "counts": {"total": 1, "succeeded": 0, "failed": 0, "cancelled": 0, "pending": 1},
        "usage": usage,
        "cost": {"spent_usd": 0, "reserved_usd": 0, "limit_usd": None, "estimated_total_usd": None},
        "deadline": None,
        "chunks": None,
        "metadata": None,
        "error": None,
        "created_at": "2026-12-01T00:00:00.000Z",
        "started_at": None,
        "completed_at": completed_at,
        "eta": None,
    }


def test_wait_gives_up_after_its_timeout_and_ends_on_a_status_it_does_not_know() -> None:
    client, seen = scripted_client([answer(200, batch_body("running"))])
    with pytest.raises(WaitTimeoutError) as gave_up:
        client.batches.wait("batch_1", poll_interval=0.05, timeout=0.3)
    assert gave_up.value.batch.status == "running" and len(seen) >= 3

    # A final status a newer server adds: completed_at says the batch has ended.
    client, seen = scripted_client([answer(200, batch_body("running")), answer(200, batch_body("rejected", "2026-12-01T00:01:00Z"))])
    assert client.batches.wait("batch_1", poll_interval=0.01).status == "rejected"
    assert len(seen) == 2


def test_a_completion_waits_longer_than_the_server_holds_it() -> None:
    done = {"object": "completion", "batch_id": "b", "results": []}
    client, seen = scripted_client([answer(200, done)], timeout=10)
    client.completions.classify(model="m", categories=["a", "b"], items=["x"], timeout_seconds=300)
    client.completions.summarize(model="m", items=["x"])
    assert [r.extensions["timeout"]["read"] for r in seen] == [315, 135]
    client, other = scripted_client([answer(200, BATCH_LIST)], timeout=10)
    client.batches.list()
    assert other[0].extensions["timeout"]["read"] == 10
    assert seen[0].url.params["timeout_seconds"] == "300" and "timeout_seconds" not in seen[1].url.params
