"""The transport under every resource: headers, timeouts, retries and error mapping, sync and async.

A call is retried after a 429, a 5xx or a connection error, up to ``max_retries`` times, with
exponential backoff and jitter; a 429's ``Retry-After`` is waited out instead when it is no
longer than ``max_retry_after`` (a longer one is raised at once). A body that cannot be sent
twice (an iterator of items) and a call that must not run twice are attempted once.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import pydantic

from . import __version__
from ._shared import json_default
from .errors import (
    APIConnectionError,
    APITimeoutError,
    DroverError,
    DroverResponseError,
    Issue,
    RateLimitError,
    error_for_status,
    is_retryable,
)

M = TypeVar("M", bound=pydantic.BaseModel)

Query = dict[str, Any]


@dataclass
class Options:
    base_url: str
    api_key: str | None
    max_retries: int
    timeout: float
    retry_base_delay: float
    retry_max_delay: float
    max_retry_after: float
    headers: dict[str, str]


@dataclass
class RequestSpec:
    method: str
    path: str
    query: Query | None = None
    #: A JSON body, serialised once and resent as is on a retry.
    json: Any = None
    #: A body built afresh for each attempt: bytes, or an (async) iterator of bytes.
    content: Callable[[], Any] | None = None
    content_type: str | None = None
    #: False allows one attempt only: a body that cannot be rebuilt, or a call that must not run twice.
    replayable: bool = True
    accept: str = "application/json"
    extra_headers: dict[str, str] = field(default_factory=dict)
    #: Seconds per network operation for this call, when it needs longer than the client's timeout.
    timeout: float | None = None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        at = email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, at - (time.time() if now is None else now))


def _query(q: Query | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in (q or {}).items():
        if v is None:
            continue
        if isinstance(v, bool):
            out[k] = "true" if v else "false"
        elif isinstance(v, (dict, list)):
            out[k] = json.dumps(v, separators=(",", ":"))
        else:
            out[k] = str(v)
    return out


def error_from_response(res: httpx.Response, text: str, request_id: str, describe: str) -> DroverError:
    retry_after = parse_retry_after(res.headers.get("retry-after"))
    body: Any
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and isinstance(err.get("type"), str) and isinstance(err.get("message"), str):
        issues = [
            Issue(path=str(i.get("path", "")), message=str(i.get("message", "")), line=i.get("line"))
            for i in err.get("issues") or []
            if isinstance(i, dict)
        ]
        return error_for_status(
            res.status_code, err["message"], type=err["type"], issues=issues, request_id=request_id, retry_after=retry_after
        )
    snippet = text.strip()[:200]
    reason = f" {res.reason_phrase}" if res.reason_phrase else ""
    return error_for_status(
        res.status_code,
        f"{describe}: HTTP {res.status_code}{reason}{': ' + snippet if snippet else ''}",
        type="http_error",
        request_id=request_id,
        retry_after=retry_after,
    )


def parse_model(value: Any, model: type[M], describe: str, status: int | None, request_id: str | None) -> M:
    """Validates a value against a response model; a mismatch names every field that is off."""
    try:
        return model.model_validate(value)
    except pydantic.ValidationError as e:
        issues = [Issue(path=".".join(str(p) for p in x.get("loc", ())) or "(body)", message=x.get("msg", "")) for x in e.errors()]
        shown = "; ".join(f"{i.path}: {i.message}" for i in issues[:5])
        more = f"; and {len(issues) - 5} more" if len(issues) > 5 else ""
        raise DroverResponseError(
            f"{describe}: the response does not have the expected shape ({shown}{more})",
            status=status,
            issues=issues,
            request_id=request_id,
            body=value,
        ) from e


def parse_json_body(res: httpx.Response, text: str, model: type[M], describe: str, request_id: str) -> M:
    try:
        body = json.loads(text)
    except ValueError as e:
        raise DroverResponseError(
            f"{describe}: the response is not JSON: {text.strip()[:200]}", status=res.status_code, request_id=request_id, body=text
        ) from e
    return parse_model(body, model, describe, res.status_code, request_id)


class _Base:
    def __init__(self, options: Options) -> None:
        self.options = options

    def url(self, path: str) -> str:
        return self.options.base_url.rstrip("/") + path

    def headers(self, spec: RequestSpec, request_id: str) -> dict[str, str]:
        h = {"accept": spec.accept, "x-request-id": request_id, "user-agent": f"drover-client-python/{__version__}"}
        h.update(self.options.headers)
        h.update(spec.extra_headers)
        if self.options.api_key:
            h["authorization"] = f"Bearer {self.options.api_key}"
        if spec.content is not None:
            h["content-type"] = spec.content_type or "application/octet-stream"
        elif spec.json is not None:
            h["content-type"] = "application/json"
        return h

    def body(self, spec: RequestSpec) -> dict[str, Any]:
        if spec.content is not None:
            return {"content": spec.content()}
        if spec.json is not None:
            return {"content": json.dumps(spec.json, separators=(",", ":"), ensure_ascii=False, default=json_default).encode()}
        return {}

    def delay(self, err: BaseException, attempt: int) -> float | None:
        """Seconds to wait before the next attempt, or None to raise ``err`` now."""
        if not is_retryable(err):
            return None
        if isinstance(err, RateLimitError) and err.retry_after is not None:
            return None if err.retry_after > self.options.max_retry_after else err.retry_after
        step: float = min(self.options.retry_max_delay, self.options.retry_base_delay * 2.0**attempt)
        return step / 2 + random.random() * step / 2

    def timeout(self, spec: RequestSpec) -> httpx.Timeout:
        return httpx.Timeout(max(self.options.timeout, spec.timeout or 0))

    def transport_error(self, err: Exception, describe: str, request_id: str, timeout: float | None = None) -> DroverError:
        if isinstance(err, DroverError):
            return err
        if isinstance(err, httpx.TimeoutException):
            seconds = max(self.options.timeout, timeout or 0)
            return APITimeoutError(f"{describe}: no response within {seconds} s", type="timeout", request_id=request_id)
        return APIConnectionError(
            f"{describe}: could not reach {self.options.base_url} ({type(err).__name__}: {err})",
            type="connection_error",
            request_id=request_id,
        )


class SyncTransport(_Base):
    def __init__(self, options: Options, http: httpx.Client | None = None) -> None:
        super().__init__(options)
        self._owns = http is None
        self.http = http or httpx.Client(timeout=httpx.Timeout(options.timeout))

    def close(self) -> None:
        if self._owns:
            self.http.close()

    def _attempt(self, spec: RequestSpec, request_id: str) -> tuple[httpx.Response, str]:
        describe = f"{spec.method} {spec.path}"
        req = self.http.build_request(
            spec.method,
            self.url(spec.path),
            params=_query(spec.query),
            headers=self.headers(spec, request_id),
            timeout=self.timeout(spec),
            **self.body(spec),
        )
        try:
            res = self.http.send(req, stream=True)
        except httpx.HTTPError as e:
            raise self.transport_error(e, describe, request_id, spec.timeout) from e
        server_id = res.headers.get("x-request-id", request_id)
        if res.is_success:
            return res, server_id
        try:
            text = res.read().decode("utf-8", "replace")
        except httpx.HTTPError:
            text = ""
        finally:
            res.close()
        raise error_from_response(res, text, server_id, describe)

    def _with_retries(self, spec: RequestSpec) -> tuple[httpx.Response, str]:
        request_id = str(uuid.uuid4())
        max_retries = self.options.max_retries if spec.replayable else 0
        attempt = 0
        while True:
            try:
                return self._attempt(spec, request_id)
            except DroverError as err:
                wait = self.delay(err, attempt) if attempt < max_retries else None
                if wait is None:
                    raise
                time.sleep(wait)
                attempt += 1

    def request(self, spec: RequestSpec, model: type[M]) -> M:
        """A JSON call: retried as a whole (body included) and validated with ``model``."""
        res, request_id = self._with_retries(spec)
        describe = f"{spec.method} {spec.path}"
        try:
            text = res.read().decode("utf-8", "replace")
        except httpx.HTTPError as e:
            raise self.transport_error(e, describe, request_id) from e
        finally:
            res.close()
        return parse_json_body(res, text, model, describe, request_id)

    @contextmanager
    def stream(self, spec: RequestSpec) -> Iterator[tuple[httpx.Response, str]]:
        """A streamed answer: retried until the headers are in, never after."""
        res, request_id = self._with_retries(spec)
        try:
            yield res, request_id
        finally:
            res.close()

    def iter_bytes(self, res: httpx.Response, describe: str, request_id: str) -> Iterator[bytes]:
        try:
            yield from res.iter_bytes()
        except httpx.HTTPError as e:
            raise self.transport_error(e, describe, request_id) from e


class AsyncTransport(_Base):
    def __init__(self, options: Options, http: httpx.AsyncClient | None = None) -> None:
        super().__init__(options)
        self._owns = http is None
        self.http = http or httpx.AsyncClient(timeout=httpx.Timeout(options.timeout))

    async def close(self) -> None:
        if self._owns:
            await self.http.aclose()

    async def _attempt(self, spec: RequestSpec, request_id: str) -> tuple[httpx.Response, str]:
        describe = f"{spec.method} {spec.path}"
        req = self.http.build_request(
            spec.method,
            self.url(spec.path),
            params=_query(spec.query),
            headers=self.headers(spec, request_id),
            timeout=self.timeout(spec),
            **self.body(spec),
        )
        try:
            res = await self.http.send(req, stream=True)
        except httpx.HTTPError as e:
            raise self.transport_error(e, describe, request_id, spec.timeout) from e
        server_id = res.headers.get("x-request-id", request_id)
        if res.is_success:
            return res, server_id
        try:
            text = (await res.aread()).decode("utf-8", "replace")
        except httpx.HTTPError:
            text = ""
        finally:
            await res.aclose()
        raise error_from_response(res, text, server_id, describe)

    async def _with_retries(self, spec: RequestSpec) -> tuple[httpx.Response, str]:
        request_id = str(uuid.uuid4())
        max_retries = self.options.max_retries if spec.replayable else 0
        attempt = 0
        while True:
            try:
                return await self._attempt(spec, request_id)
            except DroverError as err:
                wait = self.delay(err, attempt) if attempt < max_retries else None
                if wait is None:
                    raise
                await asyncio.sleep(wait)
                attempt += 1

    async def request(self, spec: RequestSpec, model: type[M]) -> M:
        res, request_id = await self._with_retries(spec)
        describe = f"{spec.method} {spec.path}"
        try:
            text = (await res.aread()).decode("utf-8", "replace")
        except httpx.HTTPError as e:
            raise self.transport_error(e, describe, request_id) from e
        finally:
            await res.aclose()
        return parse_json_body(res, text, model, describe, request_id)

    @asynccontextmanager
    async def stream(self, spec: RequestSpec) -> AsyncIterator[tuple[httpx.Response, str]]:
        res, request_id = await self._with_retries(spec)
        try:
            yield res, request_id
        finally:
            await res.aclose()

    async def aiter_bytes(self, res: httpx.Response, describe: str, request_id: str) -> AsyncIterator[bytes]:
        try:
            async for chunk in res.aiter_bytes():
                yield chunk
        except httpx.HTTPError as e:
            raise self.transport_error(e, describe, request_id) from e
