"""Retries on the API's real 429s: a tenant's quotas refuse requests (test_transport.py has the scripted cases)."""

from __future__ import annotations

import threading
import time

import pytest

from drover import Drover, RateLimitError

from .conftest import Stack


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
    with Drover(stack.base_url, api_key=key, max_retries=100, retry_base_delay=0.1, retry_max_delay=0.4) as client:
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
