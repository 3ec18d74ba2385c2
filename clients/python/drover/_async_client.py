"""The asynchronous client, :class:`AsyncDrover`: the surface of :class:`~drover.Drover`, awaited."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pydantic

from . import _specs as specs
from ._client import DEFAULT_POLL_INTERVAL, _typed, make_options
from ._progress import ProgressBar
from ._shared import NOT_GIVEN, ItemsSource, LineSplitter, batch_id, flatten_row, ndjson_chunks_async, parse_row, with_model
from ._transport import AsyncTransport, RequestSpec
from .errors import WaitTimeoutError
from .models import (
    ApiKey,
    ApiKeyCreated,
    ApiKeyList,
    Batch,
    BatchEstimate,
    BatchList,
    CompletionResponse,
    DownloadResult,
    FileObject,
    Result,
    ResultPage,
    ValidationResult,
)
from .structured import response_format_for

T = TypeVar("T", bound=pydantic.BaseModel)


class AsyncBatches:
    """``client.batches``; see :class:`drover.Batches` for each method's contract."""

    def __init__(self, t: AsyncTransport) -> None:
        self._t = t

    async def submit(
        self,
        *,
        model: str,
        items: Iterable[Any] | None = None,
        input_file_id: str | None = None,
        response_model: type[pydantic.BaseModel] | None = None,
        schema_name: str | None = None,
        strict: bool | None = None,
        **settings: Any,
    ) -> Batch:
        spec = specs.submit({"model": model, **settings}, items, input_file_id, response_model, schema_name, strict)
        return with_model(await self._t.request(spec, Batch), response_model)

    async def submit_ndjson(
        self,
        items: ItemsSource | AsyncIterable[Any],
        *,
        model: str,
        response_model: type[pydantic.BaseModel] | None = None,
        schema_name: str | None = None,
        strict: bool | None = None,
        **settings: Any,
    ) -> Batch:
        """Items from an iterable, an async iterable, or a JSONL file path, streamed one per line."""
        spec = specs.submit_ndjson(
            "/v1/batches", {"model": model, **settings}, items, response_model, schema_name, strict, ndjson_chunks_async
        )
        return with_model(await self._t.request(spec, Batch), response_model)

    async def estimate(
        self,
        *,
        model: str,
        items: Iterable[Any] | None = None,
        input_file_id: str | None = None,
        response_model: type[pydantic.BaseModel] | None = None,
        **settings: Any,
    ) -> BatchEstimate:
        return await self._t.request(specs.estimate({"model": model, **settings}, items, input_file_id, response_model), BatchEstimate)

    async def estimate_ndjson(self, items: ItemsSource | AsyncIterable[Any], *, model: str, **settings: Any) -> BatchEstimate:
        spec = specs.submit_ndjson("/v1/batches/estimate", {"model": model, **settings}, items, None, None, None, ndjson_chunks_async)
        return await self._t.request(spec, BatchEstimate)

    async def upload_file(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        data: str | bytes | None = None,
        filename: str | None = None,
        format: str | None = None,
    ) -> FileObject:
        return await self._t.request(_async_upload(path, data, filename, format), FileObject)

    async def validate(self, body: dict[str, Any] | None = None, **fields: Any) -> ValidationResult:
        return await self._t.request(specs.validate({**(body or {}), **fields}), ValidationResult)

    async def retrieve(self, batch: str | Batch) -> Batch:
        return with_model(await self._t.request(specs.retrieve(batch), Batch), getattr(batch, "response_model", None))

    async def retrieve_item(self, batch: str | Batch, item_id: str) -> Result:
        return await self._t.request(specs.retrieve_item(batch, item_id), Result)

    async def list(
        self,
        *,
        status: str | None = None,
        model: str | None = None,
        created_after: str | datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> BatchList:
        return await self._t.request(specs.list_batches(status, model, created_after, limit, cursor), BatchList)

    async def list_all(
        self,
        *,
        status: str | None = None,
        model: str | None = None,
        created_after: str | datetime | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[Batch]:
        cursor: str | None = None
        while True:
            page = await self.list(status=status, model=model, created_after=created_after, limit=limit, cursor=cursor)
            for b in page.data:
                yield b
            cursor = page.next_cursor
            if not cursor:
                return

    async def cancel(self, batch: str | Batch) -> Batch:
        return with_model(await self._t.request(specs.action(batch, "cancel"), Batch), getattr(batch, "response_model", None))

    async def pause(self, batch: str | Batch) -> Batch:
        return with_model(await self._t.request(specs.action(batch, "pause"), Batch), getattr(batch, "response_model", None))

    async def resume(self, batch: str | Batch) -> Batch:
        return with_model(await self._t.request(specs.action(batch, "resume"), Batch), getattr(batch, "response_model", None))

    async def approve(self, batch: str | Batch) -> Batch:
        return with_model(await self._t.request(specs.action(batch, "approve"), Batch), getattr(batch, "response_model", None))

    async def reject(self, batch: str | Batch, *, reason: str | None = None) -> Batch:
        return with_model(await self._t.request(specs.reject(batch, reason), Batch), getattr(batch, "response_model", None))

    async def rerun(self, batch: str | Batch, *, status: Sequence[str] | None = None, **overrides: Any) -> Batch:
        return with_model(await self._t.request(specs.rerun(batch, status, overrides), Batch), getattr(batch, "response_model", None))

    async def set_limits(
        self,
        batch: str | Batch,
        *,
        max_cost_usd: float | None = NOT_GIVEN,
        deadline: str | datetime | None = NOT_GIVEN,
        time_limit_seconds: int = NOT_GIVEN,
    ) -> Batch:
        spec = specs.set_limits(batch, max_cost_usd, deadline, time_limit_seconds)
        return with_model(await self._t.request(spec, Batch), getattr(batch, "response_model", None))

    async def output(
        self,
        batch: str | Batch,
        *,
        status: str | None = None,
        offset: int | None = None,
        limit: int | None = None,
        sample: bool = False,
    ) -> ResultPage:
        return await self._t.request(specs.output(batch, status, offset, limit, sample), ResultPage)

    async def results(self, batch: str | Batch, *, status: str | None = None, response_model: Any = NOT_GIVEN) -> AsyncIterator[Any]:
        model = getattr(batch, "response_model", None) if response_model is NOT_GIVEN else response_model
        spec = specs.export(batch, "jsonl", status)
        describe = f"{spec.method} {spec.path}"
        async with self._t.stream(spec) as (res, request_id):
            splitter = LineSplitter()
            n = 0
            async for chunk in self._t.aiter_bytes(res, describe, request_id):
                for line in splitter.feed(chunk):
                    n += 1
                    if line.strip():
                        yield parse_row(line, n, describe, request_id, model)
            for line in splitter.end():
                n += 1
                if line.strip():
                    yield parse_row(line, n, describe, request_id, model)

    async def download(
        self, batch: str | Batch, path: str | os.PathLike[str], *, format: str = "jsonl", status: str | None = None
    ) -> DownloadResult:
        spec = specs.export(batch, format, status)
        target = Path(path)
        partial = target.with_name(target.name + ".partial")
        written = 0
        async with self._t.stream(spec) as (res, request_id):
            try:
                with open(partial, "wb") as f:
                    async for chunk in self._t.aiter_bytes(res, f"{spec.method} {spec.path}", request_id):
                        f.write(chunk)
                        written += len(chunk)
                os.replace(partial, target)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        return DownloadResult(path=str(target), bytes=written)

    async def to_pandas(self, batch: str | Batch, *, status: str | None = None, response_model: Any = NOT_GIVEN) -> Any:
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("to_pandas needs pandas: pip install 'drover-client[pandas]'") from e
        rows = [flatten_row(r) async for r in self.results(batch, status=status, response_model=response_model)]
        return pd.DataFrame.from_records(rows)

    async def wait(
        self,
        batch: str | Batch,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = None,
        on_progress: Callable[[Batch], Any] | None = None,
        progress: bool | Any = False,
    ) -> Batch:
        """As :meth:`drover.Batches.wait`; ``on_progress`` may be a coroutine function."""
        give_up = None if timeout is None else time.monotonic() + timeout
        bar = ProgressBar(batch_id(batch), None if progress is True else progress) if progress else None
        try:
            while True:
                state = await self.retrieve(batch)
                if bar:
                    bar.update(state)
                if on_progress:
                    r = on_progress(state)
                    if asyncio.iscoroutine(r):
                        await r
                if state.is_terminal:
                    return state
                left = None if give_up is None else give_up - time.monotonic()
                if left is not None and left <= 0:
                    raise WaitTimeoutError(f"batch {state.id} is still {state.status} after {timeout} s", state)
                await asyncio.sleep(poll_interval if left is None else min(poll_interval, left))
        finally:
            if bar:
                bar.close()

    async def submit_and_wait(
        self,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = None,
        on_progress: Callable[[Batch], Any] | None = None,
        progress: bool | Any = False,
        **submit: Any,
    ) -> Batch:
        batch = await self.submit(**submit)
        return await self.wait(batch, poll_interval=poll_interval, timeout=timeout, on_progress=on_progress, progress=progress)


def _async_upload(path: Any, data: Any, filename: str | None, format: str | None) -> RequestSpec:
    spec = specs.upload(path, data, filename, format)
    sync_chunks = spec.content
    assert sync_chunks is not None

    async def chunks() -> AsyncIterator[bytes]:
        # File reads are small and local; an async body keeps httpx.AsyncClient streaming it.
        for chunk in sync_chunks():
            yield chunk

    spec.content = chunks
    return spec


class AsyncCompletions:
    def __init__(self, t: AsyncTransport) -> None:
        self._t = t

    async def classify(self, *, timeout_seconds: int | None = None, **body: Any) -> CompletionResponse:
        return await self._t.request(specs.completion("classify", body, timeout_seconds), CompletionResponse)

    async def summarize(self, *, timeout_seconds: int | None = None, **body: Any) -> CompletionResponse:
        return await self._t.request(specs.completion("summarize", body, timeout_seconds), CompletionResponse)

    async def enrich(self, *, timeout_seconds: int | None = None, **body: Any) -> CompletionResponse:
        return await self._t.request(specs.completion("enrich", body, timeout_seconds), CompletionResponse)

    async def extract(self, *, response_model: type[T] | None = None, timeout_seconds: int | None = None, **body: Any) -> Any:
        if response_model is not None:
            body["schema"] = response_format_for(response_model)["json_schema"]["schema"]
        return _typed(await self._t.request(specs.completion("extract", body, timeout_seconds), CompletionResponse), response_model)

    async def custom(self, *, response_model: type[T] | None = None, timeout_seconds: int | None = None, **body: Any) -> Any:
        if response_model is not None:
            body["response_format"] = response_format_for(response_model)
        return _typed(await self._t.request(specs.completion("run", body, timeout_seconds), CompletionResponse), response_model)


class AsyncFiles:
    def __init__(self, t: AsyncTransport) -> None:
        self._t = t

    async def upload(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        data: str | bytes | None = None,
        filename: str | None = None,
        format: str | None = None,
    ) -> FileObject:
        return await self._t.request(_async_upload(path, data, filename, format), FileObject)

    async def retrieve(self, file_id: str) -> FileObject:
        return await self._t.request(specs.retrieve_file(file_id), FileObject)


class AsyncKeys:
    def __init__(self, t: AsyncTransport) -> None:
        self._t = t

    async def create(self, *, tenant: str, name: str, scopes: list[str]) -> ApiKeyCreated:
        return await self._t.request(specs.create_key(tenant, name, scopes), ApiKeyCreated)

    async def list(self, *, tenant: str | None = None) -> ApiKeyList:
        return await self._t.request(specs.list_keys(tenant), ApiKeyList)

    async def revoke(self, key_id: str) -> ApiKey:
        return await self._t.request(specs.revoke_key(key_id), ApiKey)


class AsyncDrover:
    """The Drover API client for asyncio, on ``httpx.AsyncClient``; options as :class:`~drover.Drover`.

    >>> async with AsyncDrover() as client:
    ...     batch = await client.batches.submit_and_wait(model="gpt-4.1-mini", items=["Loved it"])
    ...     async for row in client.batches.results(batch):
    ...         print(row.id, row.output)
    """

    def __init__(
        self,
        base_url: str | None = None,
        *,
        api_key: str | None = None,
        max_retries: int = 3,
        timeout: float = 60.0,
        retry_base_delay: float = 0.5,
        retry_max_delay: float = 8.0,
        max_retry_after: float = 60.0,
        headers: dict[str, str] | None = None,
        http_client: Any = None,
    ) -> None:
        options = make_options(base_url, api_key, max_retries, timeout, retry_base_delay, retry_max_delay, max_retry_after, headers)
        self._t = AsyncTransport(options, http_client)
        self.base_url = options.base_url
        self.batches = AsyncBatches(self._t)
        self.completions = AsyncCompletions(self._t)
        self.files = AsyncFiles(self._t)
        self.keys = AsyncKeys(self._t)

    async def validate(self, body: dict[str, Any] | None = None, **fields: Any) -> ValidationResult:
        return await self.batches.validate(body, **fields)

    async def close(self) -> None:
        await self._t.close()

    async def __aenter__(self) -> AsyncDrover:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
