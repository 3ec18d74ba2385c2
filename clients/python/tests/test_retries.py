"""Retries on the API's real 429s (tenant quotas), and the transport's retry rules on scripted answers."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest

from drover import (
    APIConnectionError,
    AsyncDrover,
    Drover,
    DroverResponseError,
    RateLimitError,
    ServerError,
)
from drover._transport import parse_retry_after

from .conftest import Stack

# --- against the real API: tenant quotas answer 429 --------------------------------------------


def statuses_of(client: Drover) -> list[int]:
    seen: list[int] = []
    client._t.http.event_hooks["response"].append(lambda r: seen.append(r.status_code))
    return seen


def test_a_submit_refused_by_max_active_batches_is_retried_with_backoff_until_admitted(stack: Stack, no_faults: Stack) -> None:
    key = stack.new_key("quota-active-py")
    r = stack.admin("PATCH", "/v1/admin/tenants/quota-active-py/quotas", {"max_active_batches": 1})
    assert r.status_code == 200, r.text
    stack.set_faults({"processing_ms": 5000})
    items = [{"id": f"q{i}", "content": "x"} for i in range(4)]
    with Drover(stack.base_url, api_key=key, max_retries=40, retry_base_delay=0.1, retry_max_delay=0.4) as client:
        first = client.batches.submit(model="gpt-4.1-mini", mode="batch", items=items)
        with Drover(stack.base_url, api_key=key, max_retries=0) as once, pytest.raises(RateLimitError) as refused:
            once.batches.submit(model="gpt-4.1-mini", items=items)
        assert (refused.value.status, refused.value.type, refused.value.retry_after) == (429, "quota_exceeded", None)

        seen = statuses_of(client)
        second: list = []
        t = threading.Thread(target=lambda: second.append(client.batches.submit(model="gpt-4.1-mini", items=items)))
        t.start()
        time.sleep(1.0)
        assert t.is_alive(), "still retrying while the first batch runs"
        with Drover(stack.base_url, api_key=key) as other:
            other.batches.cancel(first.id)
        t.join(60)
        assert not t.is_alive() and second, f"the retried submit got through: {seen}"
        assert second[0].id != first.id
        assert seen[0] == 429 and seen[-1] == 202 and set(seen[:-1]) == {429}, seen
        assert len(seen) >= 3


def test_requests_per_minute_gives_a_429_with_retry_after_which_is_not_waited_out_beyond_max_retry_after(stack: Stack) -> None:
    key = stack.new_key("quota-rpm-py")
    assert stack.admin("PATCH", "/v1/admin/tenants/quota-rpm-py/quotas", {"requests_per_minute": 3}).status_code == 200
    with Drover(stack.base_url, api_key=key, max_retries=0) as once:
        for _ in range(3):
            err: RateLimitError | None = None
            for _ in range(8):
                try:
                    once.batches.list()
                except RateLimitError as e:
                    err = e
                    break
            assert err is not None, "the quota answered 429"
            if err.retry_after is not None and err.retry_after >= 3:
                break
            time.sleep((err.retry_after or 1) + 0.3)  # too close to the minute's end: start again in the next
        assert (err.status, err.type) == (429, "quota_exceeded")
        assert err.retry_after is not None and 3 <= err.retry_after <= 60, err.retry_after
        assert "3 requests per minute" in err.message

    with Drover(stack.base_url, api_key=key, max_retries=3, max_retry_after=1.0) as impatient:
        seen = statuses_of(impatient)
        started = time.monotonic()
        with pytest.raises(RateLimitError) as again:
            impatient.batches.list()
        assert time.monotonic() - started < 1.0, "a Retry-After beyond max_retry_after is raised at once"
        assert seen == [429]
        assert again.value.retry_after is not None and again.value.retry_after > 1.0


# --- the transport's rules, on scripted answers (no server) -------------------------------------

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
