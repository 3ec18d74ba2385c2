"""AsyncDrover against the real local stack: the same calls, awaited."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

import pydantic
import pytest

from drover import AsyncDrover, Batch, ConflictError, NotFoundError, TypedResult, ValidationError

from .conftest import Stack


class Ticket(pydantic.BaseModel):
    topic: Literal["billing", "shipping", "other"]
    urgent: bool


@pytest.fixture()
async def aclient(stack: Stack) -> AsyncIterator[AsyncDrover]:
    async with AsyncDrover(stack.base_url, api_key=stack.admin_key, retry_base_delay=0.05) as c:
        yield c


async def test_async_submit_wait_and_typed_results(aclient: AsyncDrover, tmp_path: Path) -> None:
    progress: list[str] = []

    async def on_progress(b: Batch) -> None:
        progress.append(b.status)

    batch = await aclient.batches.submit_and_wait(
        model="gpt-4.1-mini",
        items=[{"id": f"a{i}", "content": f"ticket {i}"} for i in range(20)],
        response_model=Ticket,
        poll_interval=0.2,
        timeout=60,
        on_progress=on_progress,
    )
    assert batch.status == "completed" and progress[-1] == "completed"
    rows = [r async for r in aclient.batches.results(batch)]
    assert len(rows) == 20
    assert all(isinstance(r, TypedResult) and isinstance(r.output, Ticket) for r in rows)
    page = await aclient.batches.output(batch, limit=5)
    assert (page.total, len(page.data)) == (20, 5)
    got = await aclient.batches.download(batch, tmp_path / "out.csv", format="csv")
    assert got.bytes == (tmp_path / "out.csv").stat().st_size
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
    listed = [b.id async for b in aclient.batches.list_all(limit=2)]
    assert batch.id in listed and len(set(listed)) == len(listed)


async def test_async_ndjson_from_an_async_generator_and_concurrent_calls(aclient: AsyncDrover) -> None:
    async def items() -> AsyncIterator[dict]:
        for i in range(300):
            if i % 100 == 0:
                await asyncio.sleep(0)
            yield {"id": f"g{i}", "content": f"line {i}"}

    batch = await aclient.batches.submit_ndjson(items(), model="gpt-4.1-mini", max_output_tokens=20)
    assert batch.counts.total == 300
    # Many calls in flight on one client.
    states = await asyncio.gather(*(aclient.batches.retrieve(batch.id) for _ in range(10)))
    assert {s.id for s in states} == {batch.id}
    done = await aclient.batches.wait(batch, poll_interval=0.2, timeout=60)
    assert done.counts.succeeded == 300
    estimate = await aclient.batches.estimate_ndjson(items(), model="gpt-4.1-mini", chunk_size=100)
    assert [c.items for c in estimate.chunks.plan] == [100, 100, 100]


async def test_async_errors_are_typed(aclient: AsyncDrover, stack: Stack) -> None:
    with pytest.raises(NotFoundError):
        await aclient.batches.retrieve("batch_nope")
    with pytest.raises(ValidationError) as bad:
        await aclient.batches.submit_ndjson([{"id": "a", "content": "x"}, {"id": "a", "content": "y"}], model="gpt-4.1-mini")
    assert bad.value.issues[0].line == 2
    done = await aclient.completions.classify(model="gpt-4.1-mini", categories=["a", "b"], items=["x"])
    with pytest.raises(ConflictError):
        await aclient.batches.cancel(done.batch_id)
    file = await aclient.files.upload(data="id,content\nq,hello\n", format="csv")
    assert (await aclient.validate(model="gpt-4.1-mini", input_file_id=file.id)).valid
    key = await aclient.keys.create(tenant="async-py", name="k", scopes=["batches:read"])
    assert [k.id for k in (await aclient.keys.list(tenant="async-py")).data] == [key.id]
    assert (await aclient.keys.revoke(key.id)).revoked_at is not None


async def test_async_sample_first_approve_and_reject(aclient: AsyncDrover) -> None:
    async def awaiting(batch: Batch) -> Batch:
        for _ in range(300):
            b = await aclient.batches.retrieve(batch.id)
            if b.status != "queued" and b.status != "running":
                return b
            await asyncio.sleep(0.1)
        raise AssertionError(f"batch {batch.id} never awaited approval")

    items = [{"id": f"as{i}", "content": f"review {i}: fine"} for i in range(6)]
    batch = await aclient.batches.submit(model="gpt-4.1-mini", items=items, sample={"size": 2})
    assert (await awaiting(batch)).status == "awaiting_approval"
    assert (await aclient.batches.output(batch, sample=True)).total == 2
    done = await aclient.batches.wait(await aclient.batches.approve(batch), poll_interval=0.2, timeout=60)
    assert done.status == "completed" and done.sample is not None and done.sample.size == 2
    with pytest.raises(ConflictError):
        await aclient.batches.reject(batch, reason="late")
