"""The sync client against the real local stack: the scenarios of test/client/client.test.ts, in Python."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

import httpx
import pydantic
import pytest

from drover import (
    AuthenticationError,
    Batch,
    BatchEstimate,
    BatchList,
    ConflictError,
    Drover,
    NotFoundError,
    PermissionDeniedError,
    Result,
    ResultPage,
    TypedResult,
    ValidationError,
)

from .conftest import Stack, until


class Review(pydantic.BaseModel):
    label: Literal["positive", "negative", "neutral"]
    confidence: float = pydantic.Field(ge=0, le=1)
    keywords: list[str]


def reviews(n: int, prefix: str) -> list[dict]:
    return [
        {
            "id": f"{prefix}{i}",
            "content": f'Review {i}: the kettle boils fast, but the lid, sadly, rattles "a lot".',
            "metadata": {"row": i},
        }
        for i in range(n)
    ]


def unknown_keys(model: pydantic.BaseModel, path: str = "$") -> list[str]:
    """Fields the server sent that a response model does not declare (kept in model_extra)."""
    out = [f"{path}.{k}" for k in (model.model_extra or {})]
    for name in type(model).model_fields:
        value = getattr(model, name)
        values = value if isinstance(value, list) else [value]
        for i, v in enumerate(values):
            if isinstance(v, pydantic.BaseModel):
                out += unknown_keys(v, f"{path}.{name}" + (f"[{i}]" if isinstance(value, list) else ""))
    return out


@pytest.fixture(scope="module")
def typed_batch(client: Drover) -> tuple[Batch, list[TypedResult[Review]], list[str], dict]:
    """A 30-item batch submitted with response_model=Review and run to its end (the first TS scenario)."""
    seen: list[str] = []
    sent: dict = {}

    def spy(request: httpx.Request) -> None:
        if request.method == "POST" and request.url.path == "/v1/batches":
            sent.update(json.loads(request.read()))

    client._t.http.event_hooks["request"].append(spy)
    try:
        batch = client.batches.submit_and_wait(
            model="gpt-4.1-mini",
            system_prompt="Label the review.",
            items=reviews(30, "typed-"),
            response_model=Review,
            schema_name="review",
            poll_interval=0.2,
            timeout=60,
            on_progress=lambda b: seen.append(b.status),
        )
    finally:
        client._t.http.event_hooks["request"].remove(spy)
    rows = list(client.batches.results(batch))
    return batch, rows, seen, sent


def test_submit_with_a_pydantic_model_comes_back_as_typed_rows(typed_batch) -> None:
    batch, rows, seen, sent = typed_batch
    assert batch.status == "completed", batch
    assert batch.counts.model_dump() == {"total": 30, "succeeded": 30, "failed": 0, "cancelled": 0, "pending": 0}
    assert seen[-1] == "completed", "on_progress saw the final state"
    assert batch.response_model is Review
    assert len(rows) == 30
    for row in rows:
        assert isinstance(row, TypedResult)
        assert row.ok and row.error is None
        assert isinstance(row.output, Review)
        assert row.output.label in ("positive", "negative", "neutral")
        assert 0 <= row.output.confidence <= 1
        assert isinstance(row.output.keywords, list)
        assert row.usage is not None and row.usage.input_tokens > 0
        assert row.cost_usd > 0
        assert row.unwrap() is row.output
    assert sorted(r.metadata["row"] for r in rows) == list(range(30))

    # The response_format sent: the model's schema, strict, objects closed, no defaults.
    rf = sent["response_format"]
    assert rf["json_schema"]["name"] == "review"
    assert rf["json_schema"]["strict"] is True
    schema = rf["json_schema"]["schema"]
    assert schema["additionalProperties"] is False
    assert schema["required"] == ["label", "confidence", "keywords"]
    assert "$schema" not in schema
    assert re.fullmatch(r"drover-client-[0-9a-f-]{36}", sent["idempotency_key"])


def test_results_yields_every_row_once_streamed_from_the_jsonl_export(client: Drover, typed_batch) -> None:
    batch = typed_batch[0]
    ids = [r.id for r in client.batches.results(batch.id)]
    assert len(ids) == 30 and set(ids) == {f"typed-{i}" for i in range(30)}
    untyped = next(iter(client.batches.results(batch.id)))
    assert isinstance(untyped, Result) and isinstance(untyped.output, dict)
    assert list(client.batches.results(batch.id, status="failed")) == []

    # Stopping early closes the stream; the page API agrees on totals.
    for row in client.batches.results(batch.id):
        assert row.id
        break
    page = client.batches.output(batch.id, limit=10, offset=25)
    assert (page.total, len(page.data), page.offset) == (30, 5, 25)
    one = client.batches.retrieve_item(batch.id, "typed-7")
    assert (one.id, one.status) == ("typed-7", "succeeded")


def test_download_writes_a_csv_and_jsonl_without_partial_files(client: Drover, typed_batch, tmp_path: Path) -> None:
    batch = typed_batch[0]
    csv_path = tmp_path / "out.csv"
    got = client.batches.download(batch.id, csv_path, format="csv")
    csv = csv_path.read_bytes().decode()
    assert got.bytes == len(csv.encode()) and got.path == str(csv_path)
    lines = csv.split("\r\n")
    assert lines.pop() == "", "ends with a line break"
    assert lines[0] == (
        "id,status,output.label,output.confidence,output.keywords,error_code,error_message,input_tokens,"
        "cached_input_tokens,output_tokens,reasoning_tokens,cost_usd,metadata"
    )
    assert len(lines) == 31
    assert {line.split(",")[0] for line in lines[1:]} == {f"typed-{i}" for i in range(30)}
    assert all(line.split(",")[1] == "succeeded" for line in lines[1:])

    jsonl_path = tmp_path / "out.jsonl"
    client.batches.download(batch, jsonl_path)
    rows = [Result.model_validate_json(line) for line in jsonl_path.read_text().strip().split("\n")]
    assert len(rows) == 30
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.jsonl"]

    with pytest.raises(NotFoundError):
        client.batches.download("batch_missing", tmp_path / "missing.csv", format="csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "out.jsonl"], "no .partial file left behind"


def test_wait_shows_a_tqdm_progress_bar(client: Drover, typed_batch, capsys: pytest.CaptureFixture[str]) -> None:
    done = client.batches.wait(typed_batch[0].id, progress=True, poll_interval=0.1)
    assert done.status == "completed"
    err = capsys.readouterr().err
    assert typed_batch[0].id in err and "30/30" in err and "completed" in err, err


def test_submit_ndjson_streams_500_items_from_a_generator_with_an_idempotency_key(client: Drover) -> None:
    produced = 0

    def items():
        nonlocal produced
        for i in range(500):
            produced += 1
            yield {"id": f"nd-{i}", "content": f"Ticket {i}: the parcel arrived late.", "inputs": {"n": i}}

    class Summary(pydantic.BaseModel):
        summary: str

    batch = client.batches.submit_ndjson(
        items(),
        model="gpt-4.1-mini",
        user_prompt_template="Summarise ticket {n}: {content}",
        response_model=Summary,
        metadata={"source": "ndjson"},
        max_output_tokens=50,
    )
    assert produced == 500
    assert batch.counts.total == 500
    assert batch.metadata == {"source": "ndjson"}
    done = client.batches.wait(batch, poll_interval=0.2, timeout=60)
    assert done.status == "completed", done
    assert done.counts.succeeded == 500
    rows = list(client.batches.results(done))
    assert len(rows) == 500
    assert all(isinstance(r.output, Summary) and isinstance(r.output.summary, str) for r in rows)


def test_an_idempotency_key_returns_the_first_batch_and_a_jsonl_file_streams_as_ndjson(client: Drover, tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps({"id": f"f{i}", "content": f"line {i}"}) + "\n" for i in range(40)))
    first = client.batches.submit_ndjson(path, model="gpt-4.1-mini", idempotency_key="py-idem-1")
    again = client.batches.submit_ndjson(path, model="gpt-4.1-mini", idempotency_key="py-idem-1")
    assert first.counts.total == 40
    assert again.id == first.id, "the second submit with the same key returns the first batch"
    with path.open("rb") as f:
        from_file_object = client.batches.submit_ndjson(f, model="gpt-4.1-mini", idempotency_key="py-idem-2")
    assert from_file_object.counts.total == 40 and from_file_object.id != first.id
    strings = client.batches.submit(model="gpt-4.1-mini", items=["Loved it", "Broke in a day"])
    assert strings.counts.total == 2
    assert sorted(r.id for r in client.batches.output(strings).data) == ["0", "1"]


def test_completions_file_uploads_and_validate(client: Drover, tmp_path: Path) -> None:
    done = client.completions.classify(
        model="gpt-4.1-mini", categories=["billing", "shipping"], items=[{"content": "charged twice"}, "late parcel"]
    )
    assert [r.id for r in done.results] == ["0", "1"]
    assert all(r.output["label"] in ("billing", "shipping") for r in done.results)
    summary = client.completions.summarize(model="gpt-4.1-mini", items=["A long text about kettles."], max_words=10)
    assert summary.results[0].status == "succeeded"
    enriched = client.completions.enrich(
        model="gpt-4.1-mini", items=["Paris"], fields=[{"name": "country", "type": "string"}, {"name": "big", "type": "boolean"}]
    )
    assert set(enriched.results[0].output) >= {"country", "big"}

    csv_path = tmp_path / "upload.csv"
    csv_path.write_text('id,content\na,"hello, world"\nb,bye\n')
    file = client.files.upload(csv_path)
    assert (file.format, file.line_count, file.filename) == ("csv", 2, "upload.csv")
    assert client.files.retrieve(file.id).id == file.id
    from_memory = client.files.upload(data='{"id":"x","content":"y"}\n', format="jsonl")
    assert from_memory.line_count == 1

    ok = client.validate(model="gpt-4.1-mini", input_file_id=file.id)
    assert (ok.valid, ok.item_count) == (True, 2)
    bad = client.validate({"model": "gpt-4.1-mini", "items": [{"id": "a"}]})
    assert bad.valid is False
    assert bad.issues[0].path == "items[0].content"


def test_upload_file_then_an_operation_over_it_and_validate_names_the_line(client: Drover, tmp_path: Path) -> None:
    path = tmp_path / "tickets.jsonl"
    path.write_text('{"id":"t1","content":"I was charged twice"}\n{"id":"t2","content":"Where is my parcel?"}\n')
    file = client.batches.upload_file(path)
    assert (file.format, file.line_count, file.filename) == ("jsonl", 2, "tickets.jsonl")
    batch = client.batches.submit_and_wait(
        model="gpt-4.1-mini", operation="classify", categories=["billing", "shipping"], input_file_id=file.id, poll_interval=0.2, timeout=60
    )
    assert batch.status == "completed", batch
    page = client.batches.output(batch.id)
    assert sorted(r.id for r in page.data) == ["t1", "t2"]
    assert all(r.output["label"] in ("billing", "shipping") for r in page.data)

    bad_path = tmp_path / "bad.jsonl"
    bad_path.write_text('{"id":"a","content":"x"}\n{"id":"b","contnet":"y"}\n')
    bad = client.batches.validate(model="gpt-4.1-mini", input_file_id=client.batches.upload_file(bad_path).id)
    assert bad.valid is False
    assert [i.line for i in bad.issues] == [2]


def test_estimate_prices_a_batch_without_storing_it(client: Drover) -> None:
    before = [b.id for b in client.batches.list_all(limit=100)]
    est = client.batches.estimate(
        model="gpt-4.1-mini", system_prompt="Summarise.", items=reviews(50, "est-"), chunk_size=20, max_output_tokens=64
    )
    assert isinstance(est, BatchEstimate)
    assert (est.object, est.item_count, est.provider) == ("batch_estimate", 50, "openai")
    assert [c.items for c in est.chunks.plan] == [20, 20, 10]
    assert est.output_tokens.max == 50 * 64
    assert 0 < est.cost.low_usd <= est.cost.expected_usd <= est.cost.high_usd
    via_ndjson = client.batches.estimate_ndjson(
        reviews(50, "est-"), model="gpt-4.1-mini", system_prompt="Summarise.", chunk_size=20, max_output_tokens=64
    )
    assert via_ndjson == est
    with_model = client.batches.estimate(model="gpt-4.1-mini", items=reviews(5, "m-"), response_model=Review)
    assert with_model.item_count == 5
    assert [b.id for b in client.batches.list_all(limit=100)] == before, "an estimate stores no batch"
    with pytest.raises(TypeError, match="estimate"):
        client.batches.submit(model="gpt-4.1-mini", items=reviews(1, "d-"), dry_run=True)


def test_pause_set_limits_resume_and_cancel_steer_a_running_batch(client: Drover, no_faults: Stack) -> None:
    no_faults.set_faults({"processing_ms": 5000})
    created = client.batches.submit(model="gpt-4.1-mini", mode="batch", items=reviews(40, "ctl-"), chunk_size=10, max_parallel_chunks=1)
    assert created.status == "queued"
    until(lambda: client.batches.retrieve(created), lambda b: b.status == "running" and (b.chunks.running if b.chunks else 0) > 0)

    assert client.batches.pause(created).status == "paused"
    assert client.batches.set_limits(created, max_cost_usd=25).cost.limit_usd == 25
    deadline = client.batches.set_limits(created, time_limit_seconds=3600).deadline
    assert deadline is not None and deadline > datetime.now(UTC) + timedelta(seconds=3500)
    cleared = client.batches.set_limits(created, max_cost_usd=None, deadline=None)
    assert cleared.cost.limit_usd is None and cleared.deadline is None
    with pytest.raises(ValidationError) as refused:
        client.batches.set_limits(created, deadline=datetime.now(UTC) - timedelta(minutes=1))
    assert (refused.value.status, refused.value.type) == (400, "invalid_limits")
    assert "past" in refused.value.message

    assert client.batches.resume(created).status != "paused"
    cancelling = client.batches.cancel(created)
    assert cancelling.status in ("cancelling", "cancelled")
    done = client.batches.wait(created, poll_interval=0.2, timeout=30)
    assert done.status == "cancelled" and done.counts.pending == 0

    with pytest.raises(ConflictError) as late:
        client.batches.cancel(created)
    assert (late.value.status, late.value.type) == (409, "batch_ended")
    assert late.value.request_id
    with pytest.raises(ConflictError):
        client.batches.pause(created)
    with pytest.raises(ConflictError):
        client.batches.set_limits(created, max_cost_usd=5)


def test_keys_and_a_401_or_403_is_an_authentication_error_and_drover_api_key_is_the_default(
    client: Drover, stack: Stack, typed_batch, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = client.keys.create(tenant="client-team-py", name="sdk", scopes=["batches:read"])
    assert created.key.startswith("drv_")
    with Drover(stack.base_url, api_key=created.key, max_retries=0) as reader:
        assert reader.batches.list().data == [], "a new tenant has no batches"
        with pytest.raises(PermissionDeniedError) as denied:
            reader.batches.cancel(typed_batch[0].id)
        assert (denied.value.status, denied.value.type) == (403, "permission_error")
        assert isinstance(denied.value, AuthenticationError)
        assert [k.id for k in client.keys.list(tenant="client-team-py").data] == [created.id]
        assert client.keys.revoke(created.id).revoked_at is not None
        time.sleep(0.6)  # the API's key cache
        with pytest.raises(AuthenticationError) as revoked:
            reader.batches.list()
        assert (revoked.value.status, revoked.value.type) == (401, "authentication_error")
        assert not isinstance(revoked.value, PermissionDeniedError)

    monkeypatch.setenv("DROVER_API_KEY", stack.admin_key)
    monkeypatch.setenv("DROVER_BASE_URL", stack.base_url)
    with Drover() as from_env:
        assert from_env.base_url == stack.base_url
        assert from_env.batches.retrieve(typed_batch[0].id).id == typed_batch[0].id
    monkeypatch.delenv("DROVER_BASE_URL")
    assert Drover().base_url == "http://127.0.0.1:3000"


def test_errors_are_typed(client: Drover, typed_batch) -> None:
    with pytest.raises(NotFoundError) as missing:
        client.batches.retrieve("batch_doesnotexist")
    assert (missing.value.status, missing.value.type) == (404, "not_found")
    assert missing.value.request_id

    with pytest.raises(ValidationError) as bad:
        client.batches.submit(model="gpt-4.1-mini", chunk_size=0, items=[{"id": "a", "content": "x"}, {"id": "a", "content": "y"}])
    assert (bad.value.status, bad.value.type) == (400, "invalid_request")
    paths = [i.path for i in bad.value.issues]
    assert "chunk_size" in paths and any(p.startswith("items[1]") for p in paths), bad.value.issues

    with pytest.raises(ValidationError) as bad_lines:
        client.batches.submit_ndjson([{"id": "a", "content": "x"}, {"id": "a", "content": "y"}], model="gpt-4.1-mini")
    assert bad_lines.value.issues[0].line == 2
    assert "duplicate id" in bad_lines.value.issues[0].message

    # Settings refused before the body is read: the 400 still arrives while items are streaming.
    def many():
        for i in range(20_000):
            yield {"id": f"m{i}", "content": "x" * 100}

    with pytest.raises(ValidationError) as early:
        client.batches.submit_ndjson(many(), model="gpt-4.1-mini", chunk_size=0)
    assert any(i.path == "chunk_size" for i in early.value.issues), early.value.issues

    # The caller's iterator failing is raised as it is.
    def broken():
        yield {"id": "ok", "content": "x"}
        raise KeyError("the source broke")

    with pytest.raises(KeyError, match="the source broke"):
        client.batches.submit_ndjson(broken(), model="gpt-4.1-mini")

    with pytest.raises(ConflictError) as ended:
        client.batches.cancel(typed_batch[0].id)
    assert ended.value.type == "batch_ended"


def test_rerun_makes_a_linked_batch_of_the_chosen_items_and_refuses_when_none_match(client: Drover, typed_batch) -> None:
    old = typed_batch[0]
    with pytest.raises(ConflictError) as none_failed:
        client.batches.rerun(old)
    assert (none_failed.value.status, none_failed.value.type) == (409, "nothing_to_rerun")

    again = client.batches.rerun(old, status=["succeeded"], max_attempts=2)
    assert again.id != old.id and again.rerun_of == old.id
    done = client.batches.wait(again, poll_interval=0.2, timeout=60)
    assert done.status == "completed" and done.counts.total == old.counts.total == done.counts.succeeded
    assert again.id in (client.batches.retrieve(old.id).reruns or [])


def test_list_pages_through_batches_filtered_by_status_and_model(client: Drover, typed_batch) -> None:
    batch_id = typed_batch[0].id
    completed = until(lambda: client.batches.list(status="completed", limit=100), lambda p: any(b.id == batch_id for b in p.data))
    assert all(b.status == "completed" for b in completed.data)
    first = client.batches.list(limit=1)
    assert len(first.data) == 1 and first.next_cursor
    second = client.batches.list(limit=1, cursor=first.next_cursor)
    assert second.data[0].id != first.data[0].id
    every = list(client.batches.list_all(limit=1, created_after=datetime.now(UTC) - timedelta(hours=1)))
    assert len(every) >= 3, f"{len(every)} batches"
    assert len({b.id for b in every}) == len(every), "no batch twice across pages"
    assert client.batches.list(model="gpt-unheard-of").data == []


def test_the_response_models_cover_every_field_the_server_sends(client: Drover, stack: Stack, typed_batch) -> None:
    def raw(path: str, body: dict | None = None) -> dict:
        return stack.admin("POST" if body is not None else "GET", path, body).json()

    batch_id = typed_batch[0].id
    assert unknown_keys(Batch.model_validate(raw(f"/v1/batches/{batch_id}"))) == []
    assert unknown_keys(ResultPage.model_validate(raw(f"/v1/batches/{batch_id}/results?limit=5"))) == []
    assert unknown_keys(BatchList.model_validate(raw("/v1/batches?limit=5"))) == []
    est = raw("/v1/batches/estimate", {"model": "gpt-4.1-mini", "items": reviews(2, "k")})
    assert unknown_keys(BatchEstimate.model_validate(est)) == []


def test_sample_first_shows_the_sample_then_approve_runs_the_rest_and_reject_ends_it(client: Drover, stack: Stack) -> None:
    def awaiting(batch: Batch) -> Batch:
        return until(lambda: client.batches.retrieve(batch.id), lambda b: b.status in ("awaiting_approval", "failed", "cancelled"))

    batch = client.batches.submit(model="gpt-4.1-mini", items=reviews(12, "s"), chunk_size=6, sample={"size": 4})
    waiting = awaiting(batch)
    assert waiting.status == "awaiting_approval"
    assert waiting.sample is not None and waiting.sample.size == 4 and waiting.sample.succeeded == 4
    assert waiting.sample.projected_total_usd > waiting.sample.cost_usd > 0
    page = client.batches.output(batch, sample=True)
    assert page.total == 4 and all(r.status == "succeeded" and r.path == "realtime" for r in page.data)
    assert unknown_keys(Batch.model_validate(stack.admin("GET", f"/v1/batches/{batch.id}").json())) == []
    done = client.batches.wait(client.batches.approve(batch), poll_interval=0.2, timeout=60)
    assert done.status == "completed" and done.counts.succeeded == 12
    with pytest.raises(ConflictError) as again:
        client.batches.approve(batch)
    assert (again.value.status, again.value.type) == (409, "batch_ended")

    other = client.batches.submit(model="gpt-4.1-mini", items=reviews(6, "sr"), sample={"size": 2})
    assert awaiting(other).status == "awaiting_approval"
    rejected = client.batches.wait(client.batches.reject(other, reason="too long"), poll_interval=0.2, timeout=60)
    assert rejected.status == "failed" and rejected.error is not None and "too long" in rejected.error
    assert rejected.counts.succeeded == 2 and rejected.counts.total == 6
