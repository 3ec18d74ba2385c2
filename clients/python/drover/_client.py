"""The synchronous client, :class:`Drover`."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, TypeVar

import pydantic

from . import _specs as specs
from ._progress import ProgressBar
from ._shared import (
    DEFAULT_BASE_URL,
    NOT_GIVEN,
    ItemsSource,
    LineSplitter,
    batch_id,
    flatten_row,
    ndjson_chunks,
    parse_row,
    with_model,
)
from ._transport import Options, SyncTransport
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
from .structured import TypedResult, parse_result, response_format_for

T = TypeVar("T", bound=pydantic.BaseModel)

DEFAULT_POLL_INTERVAL = 2.0


def make_options(
    base_url: str | None,
    api_key: str | None,
    max_retries: int,
    timeout: float,
    retry_base_delay: float,
    retry_max_delay: float,
    max_retry_after: float,
    headers: dict[str, str] | None,
) -> Options:
    url = (base_url or os.environ.get("DROVER_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"base_url must be http(s): {url}")
    if not isinstance(max_retries, int) or max_retries < 0:
        raise ValueError("max_retries must be a whole number >= 0")
    return Options(
        base_url=url,
        api_key=api_key if api_key is not None else (os.environ.get("DROVER_API_KEY") or None),
        max_retries=max_retries,
        timeout=timeout,
        retry_base_delay=retry_base_delay,
        retry_max_delay=retry_max_delay,
        max_retry_after=max_retry_after,
        headers=dict(headers or {}),
    )


@dataclass
class TypedCompletion(Generic[T]):
    """A completion whose results were checked against a Pydantic model."""

    batch_id: str
    results: list[TypedResult[T]]


class Batches:
    """``client.batches``: everything under ``/v1/batches``."""

    def __init__(self, t: SyncTransport) -> None:
        self._t = t

    def submit(
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
        """``POST /v1/batches`` (JSON): a batch of ``items`` (dicts, or strings given ids "0", "1", …) or of an uploaded file.

        Every other batch setting (``system_prompt``, ``user_prompt_template``, ``operation`` and
        its fields, ``chunk_size``, ``max_cost_usd``, ``metadata``, ``mode``, …) is a keyword.
        ``response_model`` (a Pydantic model class) becomes the ``response_format``, and
        ``results(batch)`` then yields :class:`TypedResult` rows of it. Without an
        ``idempotency_key`` the client adds a random one, so its retries never create a second batch.
        """
        spec = specs.submit({"model": model, **settings}, items, input_file_id, response_model, schema_name, strict)
        return with_model(self._t.request(spec, Batch), response_model)

    def submit_ndjson(
        self,
        items: ItemsSource,
        *,
        model: str,
        response_model: type[pydantic.BaseModel] | None = None,
        schema_name: str | None = None,
        strict: bool | None = None,
        **settings: Any,
    ) -> Batch:
        """``POST /v1/batches`` as NDJSON, for large batches: items are streamed one per line, never held whole.

        ``items`` is an iterable (a generator, say) of item dicts, a DataFrame, or the path (or
        binary file object) of a JSONL file; the settings go in the query string. Only a list, a
        tuple, a DataFrame or a path can be sent again, so only then is the call retried; with an iterator a failure is
        raised (submit again with the same ``idempotency_key``). An error the iterator raises is
        raised as is.
        """
        spec = specs.submit_ndjson("/v1/batches", {"model": model, **settings}, items, response_model, schema_name, strict, ndjson_chunks)
        return with_model(self._t.request(spec, Batch), response_model)

    def estimate(
        self,
        *,
        model: str,
        items: Iterable[Any] | None = None,
        input_file_id: str | None = None,
        response_model: type[pydantic.BaseModel] | None = None,
        **settings: Any,
    ) -> BatchEstimate:
        """``POST /v1/batches/estimate``: validates, plans and prices the batch; stores nothing."""
        return self._t.request(specs.estimate({"model": model, **settings}, items, input_file_id, response_model), BatchEstimate)

    def estimate_ndjson(self, items: ItemsSource, *, model: str, **settings: Any) -> BatchEstimate:
        """The NDJSON form of :meth:`estimate`."""
        spec = specs.submit_ndjson("/v1/batches/estimate", {"model": model, **settings}, items, None, None, None, ndjson_chunks)
        return self._t.request(spec, BatchEstimate)

    def upload_file(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        data: str | bytes | None = None,
        filename: str | None = None,
        format: str | None = None,
    ) -> FileObject:
        """``POST /v1/files``: a JSONL or CSV file for ``input_file_id``, streamed from disk (as ``client.files.upload``)."""
        return self._t.request(specs.upload(path, data, filename, format), FileObject)

    def validate(self, body: dict[str, Any] | None = None, **fields: Any) -> ValidationResult:
        """``POST /v1/batches/validate``: every problem of a body (or of its ``input_file_id``), with its path or line."""
        return self._t.request(specs.validate({**(body or {}), **fields}), ValidationResult)

    def retrieve(self, batch: str | Batch) -> Batch:
        """``GET /v1/batches/:id``: live figures while it runs, final ones after."""
        return with_model(self._t.request(specs.retrieve(batch), Batch), getattr(batch, "response_model", None))

    def retrieve_item(self, batch: str | Batch, item_id: str) -> Result:
        """``GET /v1/batches/:id/items/:item_id``: one item's state and result."""
        return self._t.request(specs.retrieve_item(batch, item_id), Result)

    def list(
        self,
        *,
        status: str | None = None,
        model: str | None = None,
        created_after: str | datetime | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> BatchList:
        """``GET /v1/batches``: one page, newest first; pass ``next_cursor`` back as ``cursor``."""
        return self._t.request(specs.list_batches(status, model, created_after, limit, cursor), BatchList)

    def list_all(
        self,
        *,
        status: str | None = None,
        model: str | None = None,
        created_after: str | datetime | None = None,
        limit: int | None = None,
    ) -> Iterator[Batch]:
        """Every batch matching the filters, page after page (``limit`` is the page size)."""
        cursor: str | None = None
        while True:
            page = self.list(status=status, model=model, created_after=created_after, limit=limit, cursor=cursor)
            yield from page.data
            cursor = page.next_cursor
            if not cursor:
                return

    def cancel(self, batch: str | Batch) -> Batch:
        """``POST /v1/batches/:id/cancel``: finished results are kept. ConflictError once the batch has ended."""
        return with_model(self._t.request(specs.action(batch, "cancel"), Batch), getattr(batch, "response_model", None))

    def pause(self, batch: str | Batch) -> Batch:
        """``POST /v1/batches/:id/pause``: no new chunk starts; running ones finish."""
        return with_model(self._t.request(specs.action(batch, "pause"), Batch), getattr(batch, "response_model", None))

    def resume(self, batch: str | Batch) -> Batch:
        """``POST /v1/batches/:id/resume``."""
        return with_model(self._t.request(specs.action(batch, "resume"), Batch), getattr(batch, "response_model", None))

    def approve(self, batch: str | Batch) -> Batch:
        """``POST /v1/batches/:id/approve``: sample first, the batch awaiting approval runs the rest.
        ConflictError (``not_awaiting_approval``) unless it awaits approval."""
        return with_model(self._t.request(specs.action(batch, "approve"), Batch), getattr(batch, "response_model", None))

    def reject(self, batch: str | Batch, *, reason: str | None = None) -> Batch:
        """``POST /v1/batches/:id/reject``: sample first, the batch ends ``failed`` with ``reason`` in its error,
        its other items unsent. ConflictError (``not_awaiting_approval``) unless it awaits approval."""
        return with_model(self._t.request(specs.reject(batch, reason), Batch), getattr(batch, "response_model", None))

    def rerun(self, batch: str | Batch, *, status: Sequence[str] | None = None, **overrides: Any) -> Batch:
        """``POST /v1/batches/:id/rerun``: a new batch of the ended batch's failed items (or those of
        ``status``), with its settings unless ``overrides`` (``model``, ``mode``, ``max_attempts``, …)
        give others. ConflictError while the batch runs (``batch_not_ended``) or when no item has
        such an outcome (``nothing_to_rerun``)."""
        return with_model(self._t.request(specs.rerun(batch, status, overrides), Batch), getattr(batch, "response_model", None))

    def set_limits(
        self,
        batch: str | Batch,
        *,
        max_cost_usd: float | None = NOT_GIVEN,
        deadline: str | datetime | None = NOT_GIVEN,
        time_limit_seconds: int = NOT_GIVEN,
    ) -> Batch:
        """``PATCH /v1/batches/:id/limits``: None removes a limit; a limit below the spend or a past deadline is a ValidationError."""
        spec = specs.set_limits(batch, max_cost_usd, deadline, time_limit_seconds)
        return with_model(self._t.request(spec, Batch), getattr(batch, "response_model", None))

    def output(
        self,
        batch: str | Batch,
        *,
        status: str | None = None,
        offset: int | None = None,
        limit: int | None = None,
        sample: bool = False,
    ) -> ResultPage:
        """``GET /v1/batches/:id/results?format=json``: one page of rows (``limit`` at most 1000) and the ``total``;
        with ``sample=True``, the rows of the batch's sample only."""
        return self._t.request(specs.output(batch, status, offset, limit, sample), ResultPage)

    def results(self, batch: str | Batch, *, status: str | None = None, response_model: Any = NOT_GIVEN) -> Iterator[Any]:
        """Every row (or every row with ``status``), read from the JSONL export line by line as it arrives.

        Rows are :class:`~drover.models.Result`; with a ``response_model`` (by default the one the
        batch was submitted with, when ``batch`` is the Batch that submit returned) they are
        :class:`~drover.structured.TypedResult`. The request is retried until the server answers;
        once rows flow, a broken connection is raised, not retried.
        """
        model = getattr(batch, "response_model", None) if response_model is NOT_GIVEN else response_model
        spec = specs.export(batch, "jsonl", status)
        describe = f"{spec.method} {spec.path}"
        with self._t.stream(spec) as (res, request_id):
            splitter = LineSplitter()
            n = 0
            for chunk in self._t.iter_bytes(res, describe, request_id):
                for line in splitter.feed(chunk):
                    n += 1
                    if line.strip():
                        yield parse_row(line, n, describe, request_id, model)
            for line in splitter.end():
                n += 1
                if line.strip():
                    yield parse_row(line, n, describe, request_id, model)

    def download(
        self, batch: str | Batch, path: str | os.PathLike[str], *, format: str = "jsonl", status: str | None = None
    ) -> DownloadResult:
        """Streams the JSONL or CSV export to ``path`` via ``<path>.partial``, renamed once complete."""
        spec = specs.export(batch, format, status)
        target = Path(path)
        partial = target.with_name(target.name + ".partial")
        written = 0
        with self._t.stream(spec) as (res, request_id):
            try:
                with open(partial, "wb") as f:
                    for chunk in self._t.iter_bytes(res, f"{spec.method} {spec.path}", request_id):
                        f.write(chunk)
                        written += len(chunk)
                os.replace(partial, target)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
        return DownloadResult(path=str(target), bytes=written)

    def to_pandas(self, batch: str | Batch, *, status: str | None = None, response_model: Any = NOT_GIVEN) -> Any:
        """The rows as a pandas DataFrame, one column per output field as in the CSV export (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("to_pandas needs pandas: pip install 'drover-client[pandas]'") from e
        return pd.DataFrame.from_records(
            [flatten_row(r) for r in self.results(batch, status=status, response_model=response_model)],
            columns=None,
        )

    def wait(
        self,
        batch: str | Batch,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = None,
        on_progress: Callable[[Batch], Any] | None = None,
        progress: bool | Any = False,
    ) -> Batch:
        """Polls until the batch ends (any final status, failures included) and returns its last state.

        ``progress=True`` shows a tqdm bar (the ``progress`` extra; a notebook gets its widget);
        ``on_progress`` is called with every state polled. WaitTimeoutError after ``timeout`` seconds.
        """
        give_up = None if timeout is None else time.monotonic() + timeout
        bar = ProgressBar(batch_id(batch), None if progress is True else progress) if progress else None
        try:
            while True:
                state = self.retrieve(batch)
                if bar:
                    bar.update(state)
                if on_progress:
                    on_progress(state)
                if state.is_terminal:
                    return state
                left = None if give_up is None else give_up - time.monotonic()
                if left is not None and left <= 0:
                    raise WaitTimeoutError(f"batch {state.id} is still {state.status} after {timeout} s", state)
                time.sleep(poll_interval if left is None else min(poll_interval, left))
        finally:
            if bar:
                bar.close()

    def submit_and_wait(
        self,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        timeout: float | None = None,
        on_progress: Callable[[Batch], Any] | None = None,
        progress: bool | Any = False,
        **submit: Any,
    ) -> Batch:
        """:meth:`submit`, then :meth:`wait`: the batch's final state (carrying its ``response_model``)."""
        batch = self.submit(**submit)
        return self.wait(batch, poll_interval=poll_interval, timeout=timeout, on_progress=on_progress, progress=progress)


class Completions:
    """``client.completions``: up to 100 items answered in the response (a small realtime batch on the server)."""

    def __init__(self, t: SyncTransport) -> None:
        self._t = t

    def classify(self, *, timeout_seconds: int | None = None, **body: Any) -> CompletionResponse:
        return self._t.request(specs.completion("classify", body, timeout_seconds), CompletionResponse)

    def summarize(self, *, timeout_seconds: int | None = None, **body: Any) -> CompletionResponse:
        return self._t.request(specs.completion("summarize", body, timeout_seconds), CompletionResponse)

    def enrich(self, *, timeout_seconds: int | None = None, **body: Any) -> CompletionResponse:
        return self._t.request(specs.completion("enrich", body, timeout_seconds), CompletionResponse)

    def extract(self, *, response_model: type[T] | None = None, timeout_seconds: int | None = None, **body: Any) -> Any:
        """``extraction_instructions`` and a ``schema``, or a ``response_model`` (then the results are typed)."""
        if response_model is not None:
            body["schema"] = response_format_for(response_model)["json_schema"]["schema"]
        res = self._t.request(specs.completion("extract", body, timeout_seconds), CompletionResponse)
        return _typed(res, response_model)

    def custom(self, *, response_model: type[T] | None = None, timeout_seconds: int | None = None, **body: Any) -> Any:
        """Your own prompt (``system_prompt``, ``user_prompt_template``, ``response_format`` or ``response_model``)."""
        if response_model is not None:
            body["response_format"] = response_format_for(response_model)
        res = self._t.request(specs.completion("run", body, timeout_seconds), CompletionResponse)
        return _typed(res, response_model)


def _typed(res: CompletionResponse, model: Any) -> Any:
    if model is None:
        return res
    return TypedCompletion(batch_id=res.batch_id, results=[parse_result(r, model) for r in res.results])


class Files:
    """``client.files``: JSONL or CSV uploads for ``input_file_id``."""

    def __init__(self, t: SyncTransport) -> None:
        self._t = t

    def upload(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        data: str | bytes | None = None,
        filename: str | None = None,
        format: str | None = None,
    ) -> FileObject:
        """``POST /v1/files``: ``path`` is streamed from disk (reopened on a retry); ``data`` is sent from memory."""
        return self._t.request(specs.upload(path, data, filename, format), FileObject)

    def retrieve(self, file_id: str) -> FileObject:
        return self._t.request(specs.retrieve_file(file_id), FileObject)


class Keys:
    """``client.keys``: API keys (``/v1/admin/keys``); needs an ``admin`` key."""

    def __init__(self, t: SyncTransport) -> None:
        self._t = t

    def create(self, *, tenant: str, name: str, scopes: list[str]) -> ApiKeyCreated:
        """A new key; its ``key`` is shown this once. Never retried (a retry could make a second key)."""
        return self._t.request(specs.create_key(tenant, name, scopes), ApiKeyCreated)

    def list(self, *, tenant: str | None = None) -> ApiKeyList:
        """Every key, or one tenant's; never the key itself."""
        return self._t.request(specs.list_keys(tenant), ApiKeyList)

    def revoke(self, key_id: str) -> ApiKey:
        """Revokes a key: refused everywhere within a second. Revoking twice is harmless."""
        return self._t.request(specs.revoke_key(key_id), ApiKey)


class Drover:
    """The Drover API client (synchronous).

    >>> client = Drover()  # DROVER_BASE_URL (default http://127.0.0.1:3000), DROVER_API_KEY
    >>> batch = client.batches.submit_and_wait(model="gpt-4.1-mini", items=["Loved it", "Broke in a day"])
    >>> for row in client.batches.results(batch):
    ...     print(row.id, row.output)

    ``max_retries`` retries follow a 429, a 5xx or a connection error (so up to 4 attempts by
    default), with exponential backoff from ``retry_base_delay`` to ``retry_max_delay`` seconds
    and jitter; a ``Retry-After`` up to ``max_retry_after`` seconds is waited out instead.
    ``timeout`` (seconds) bounds each network operation (connect, each read and write).
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
        self._t = SyncTransport(options, http_client)
        self.base_url = options.base_url
        self.batches = Batches(self._t)
        self.completions = Completions(self._t)
        self.files = Files(self._t)
        self.keys = Keys(self._t)

    def validate(self, body: dict[str, Any] | None = None, **fields: Any) -> ValidationResult:
        """``POST /v1/batches/validate``: every problem of a body, with its path or line; nothing is created."""
        return self.batches.validate(body, **fields)

    def close(self) -> None:
        self._t.close()

    def __enter__(self) -> Drover:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
