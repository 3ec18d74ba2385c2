"""What the sync and async clients share: request building, NDJSON bodies and row parsing (no I/O)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

from .errors import DroverResponseError
from .models import Batch, Result
from .structured import parse_result, response_format_for

#: Lines are gathered into chunks of about this many bytes before they go to the socket.
CHUNK_BYTES = 64 * 1024

DEFAULT_BASE_URL = "http://127.0.0.1:3000"


class _NotGiven:
    """The default of an argument where None means something (``set_limits``: None removes a limit)."""

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False


NOT_GIVEN: Any = _NotGiven()

ItemsSource = Iterable[Any] | str | os.PathLike[str] | IO[bytes]


def batch_path(batch: str | Batch) -> str:
    return f"/v1/batches/{quote(batch_id(batch), safe='')}"


def batch_id(batch: str | Batch) -> str:
    return batch.id if isinstance(batch, Batch) else batch


def iso(value: str | datetime | None) -> str | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    return value


def idempotency_key() -> str:
    """A random key: a retry after a lost answer then returns the batch the first try created."""
    return f"drover-client-{uuid.uuid4()}"


def normalise_items(items: Iterable[Any]) -> Iterator[Any]:
    """Items as the API takes them: dicts pass through, a bare string becomes ``{"id": "<index>", "content": …}``,
    and a pandas DataFrame gives one item per row, its columns mapped as an uploaded CSV's are."""
    if _is_dataframe(items):
        yield from dataframe_items(items)
        return
    for i, item in enumerate(items):
        yield {"id": str(i), "content": item} if isinstance(item, str) else item


def _is_dataframe(value: Any) -> bool:
    return hasattr(value, "columns") and hasattr(value, "to_dict") and hasattr(value, "index")


def dataframe_items(df: Any) -> Iterator[dict[str, Any]]:
    """A DataFrame's rows as items, as ``POST /v1/files`` reads a CSV: ``id`` and ``content`` columns are
    those fields, ``metadata.<key>`` columns go into metadata, every other column into ``inputs`` (for
    the template's placeholders). Without an ``id`` column the row's index is the id; NaN becomes null."""
    columns = [str(c) for c in df.columns]
    for index, row in zip(df.index, df.itertuples(index=False, name=None), strict=True):
        item: dict[str, Any] = {}
        inputs: dict[str, Any] = {}
        metadata: dict[str, Any] = {}
        for name, value in zip(columns, row, strict=True):
            value = _plain(value)
            if name in ("id", "content"):
                item[name] = value if value is None or name == "content" else str(value)
            elif name.startswith("metadata."):
                metadata[name[len("metadata.") :]] = value
            else:
                inputs[name] = value
        item.setdefault("id", str(index))
        if inputs:
            item["inputs"] = inputs
        if metadata:
            item["metadata"] = metadata
        yield item


def _plain(value: Any) -> Any:
    """A cell as a JSON value: numpy scalars as Python ones, NaN and NaT as None, times as ISO text."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        try:
            value = value.item()
        except (TypeError, ValueError):
            pass
    if isinstance(value, float) and value != value:
        return None
    if type(value).__name__ == "NaTType":
        return None
    if isinstance(value, datetime):
        return iso(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def json_default(value: Any) -> Any:
    """What ``json.dumps`` cannot write by itself: Pydantic models, dates and times, numpy scalars."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return iso(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def settings_body(
    settings: dict[str, Any],
    *,
    response_model: Any = None,
    schema_name: str | None = None,
    strict: bool | None = None,
) -> dict[str, Any]:
    """The settings with ``None`` values left out, dates as ISO text and ``response_model`` as a ``response_format``."""
    if "dry_run" in settings:
        raise TypeError("dry_run is not accepted by submit: call batches.estimate() for a dry run")
    body = {k: iso(v) if isinstance(v, datetime) else v for k, v in settings.items() if v is not None}
    if response_model is not None:
        if "response_format" in body:
            raise TypeError("give response_model or response_format, not both")
        body["response_format"] = response_format_for(response_model, name=schema_name, strict=strict)
    return body


def json_items_body(settings: dict[str, Any], items: Iterable[Any] | None, input_file_id: str | None) -> dict[str, Any]:
    body = dict(settings)
    if (items is None) == (input_file_id is None):
        raise TypeError("give items or input_file_id (one of them)")
    if items is not None:
        body["items"] = list(normalise_items(items))
    else:
        body["input_file_id"] = input_file_id
    return body


def is_path(source: Any) -> bool:
    return isinstance(source, (str, os.PathLike))


def replayable(source: Any) -> bool:
    """Whether an NDJSON source can be read again for a retry: a list, a tuple, a DataFrame or a file path."""
    return isinstance(source, (list, tuple)) or is_path(source) or _is_dataframe(source)


def ndjson_chunks(source: ItemsSource) -> Iterator[bytes]:
    """An NDJSON body pulled from items (or a JSONL file) a chunk at a time, never held whole."""
    if is_path(source):
        with open(source, "rb") as f:  # type: ignore[arg-type]
            yield from iter(lambda: f.read(CHUNK_BYTES), b"")
        return
    if hasattr(source, "read"):
        yield from iter(lambda: source.read(CHUNK_BYTES), b"")
        return
    buf = bytearray()
    for item in normalise_items(source):  # type: ignore[arg-type]
        buf += json.dumps(item, separators=(",", ":"), ensure_ascii=False, default=json_default).encode() + b"\n"
        if len(buf) >= CHUNK_BYTES:
            yield bytes(buf)
            buf.clear()
    if buf:
        yield bytes(buf)


async def ndjson_chunks_async(source: ItemsSource | AsyncIterable[Any]) -> AsyncIterator[bytes]:
    """The async form of :func:`ndjson_chunks`: also takes an async iterable of items."""
    if not isinstance(source, AsyncIterable):
        for chunk in ndjson_chunks(source):
            yield chunk
        return
    buf = bytearray()
    i = 0
    async for item in source:
        item = {"id": str(i), "content": item} if isinstance(item, str) else item
        i += 1
        buf += json.dumps(item, separators=(",", ":"), ensure_ascii=False, default=json_default).encode() + b"\n"
        if len(buf) >= CHUNK_BYTES:
            yield bytes(buf)
            buf.clear()
    if buf:
        yield bytes(buf)


def file_chunks(path: str | os.PathLike[str] | None, data: str | bytes | None) -> Iterator[bytes]:
    if path is not None:
        with open(path, "rb") as f:
            yield from iter(lambda: f.read(CHUNK_BYTES), b"")
    else:
        yield data.encode() if isinstance(data, str) else bytes(data or b"")


def upload_query(path: str | os.PathLike[str] | None, data: str | bytes | None, filename: str | None, format: str | None) -> dict[str, Any]:
    if (path is None) == (data is None):
        raise TypeError("upload takes a path or data (one of them)")
    name = filename or (Path(path).name if path is not None else f"upload.{format or 'jsonl'}")
    fmt = format or ("csv" if name.endswith(".csv") else "jsonl")
    return {"filename": name, "format": fmt}


def limits_body(max_cost_usd: Any, deadline: Any, time_limit_seconds: Any) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if max_cost_usd is not NOT_GIVEN:
        body["max_cost_usd"] = max_cost_usd
    if deadline is not NOT_GIVEN:
        body["deadline"] = iso(deadline)
    if time_limit_seconds is not NOT_GIVEN:
        body["time_limit_seconds"] = time_limit_seconds
    return body


class LineSplitter:
    """Splits a byte stream into lines (``\\n``, with any ``\\r`` before it dropped)."""

    def __init__(self) -> None:
        self._rest = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        self._rest += chunk
        *lines, self._rest = self._rest.split(b"\n")
        return [line[:-1] if line.endswith(b"\r") else line for line in lines]

    def end(self) -> list[bytes]:
        rest, self._rest = self._rest, b""
        rest = rest[:-1] if rest.endswith(b"\r") else rest
        return [rest] if rest else []


def parse_row(line: bytes, line_no: int, describe: str, request_id: str, response_model: Any) -> Any:
    """One JSONL export line as a Result, or a TypedResult when a response model is given."""
    try:
        value = json.loads(line)
    except ValueError as e:
        raise DroverResponseError(
            f"{describe}: line {line_no} of the JSONL export is not JSON (a cut-off stream?): {line[:200]!r}",
            request_id=request_id,
            body=line,
        ) from e
    from ._transport import parse_model

    row = parse_model(value, Result, f"{describe} (line {line_no})", 200, request_id)
    return parse_result(row, response_model) if response_model is not None else row


def flatten_row(row: Any) -> dict[str, Any]:
    """A result row as one flat record, columns as in the CSV export (``output.<field>`` for object outputs)."""
    output = row.output
    if hasattr(output, "model_dump"):
        output = output.model_dump(mode="json")
    error = row.error
    record: dict[str, Any] = {"id": row.id, "status": row.status}
    if isinstance(output, dict):
        for k, v in output.items():
            record[f"output.{k}"] = v
    else:
        record["output"] = output
    code = getattr(error, "code", None)
    record["error_code"] = code
    record["error_message"] = getattr(error, "message", None) if error is not None else None
    usage = row.usage
    for k in ("input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens"):
        record[k] = getattr(usage, k) if usage is not None else None
    record["cost_usd"] = row.cost_usd
    record["metadata"] = row.metadata
    return record


def with_model(batch: Batch, model: Any) -> Batch:
    batch._response_model = model
    return batch
