"""Every API call as a RequestSpec: the one description the sync and async clients both send."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from ._shared import (
    batch_path,
    file_chunks,
    idempotency_key,
    iso,
    json_items_body,
    limits_body,
    normalise_items,
    replayable,
    settings_body,
    upload_query,
)
from ._transport import RequestSpec


def submit(
    settings: dict[str, Any],
    items: Iterable[Any] | None,
    input_file_id: str | None,
    response_model: Any,
    schema_name: str | None,
    strict: bool | None,
) -> RequestSpec:
    body = settings_body(settings, response_model=response_model, schema_name=schema_name, strict=strict)
    body.setdefault("idempotency_key", idempotency_key())
    return RequestSpec("POST", "/v1/batches", json=json_items_body(body, items, input_file_id))


def submit_ndjson(
    path: str, settings: dict[str, Any], source: Any, response_model: Any, schema_name: str | None, strict: bool | None, chunks: Any
) -> RequestSpec:
    query = settings_body(settings, response_model=response_model, schema_name=schema_name, strict=strict)
    if path == "/v1/batches":
        query.setdefault("idempotency_key", idempotency_key())
    return RequestSpec(
        "POST",
        path,
        query=query,
        content=lambda: chunks(source),
        content_type="application/x-ndjson",
        replayable=replayable(source),
    )


def estimate(settings: dict[str, Any], items: Iterable[Any] | None, input_file_id: str | None, response_model: Any) -> RequestSpec:
    body = settings_body(settings, response_model=response_model)
    return RequestSpec("POST", "/v1/batches/estimate", json=json_items_body(body, items, input_file_id))


def validate(body: dict[str, Any]) -> RequestSpec:
    return RequestSpec("POST", "/v1/batches/validate", json=body)


def retrieve(batch: Any) -> RequestSpec:
    return RequestSpec("GET", batch_path(batch))


def retrieve_item(batch: Any, item_id: str) -> RequestSpec:
    return RequestSpec("GET", f"{batch_path(batch)}/items/{quote(item_id, safe='')}")


def list_batches(
    status: str | None, model: str | None, created_after: str | datetime | None, limit: int | None, cursor: str | None
) -> RequestSpec:
    query = {"status": status, "model": model, "created_after": iso(created_after), "limit": limit, "cursor": cursor}
    return RequestSpec("GET", "/v1/batches", query=query)


def action(batch: Any, verb: str) -> RequestSpec:
    return RequestSpec("POST", f"{batch_path(batch)}/{verb}")


def rerun(batch: Any, status: Sequence[str] | None, overrides: dict[str, Any]) -> RequestSpec:
    body = {k: v for k, v in overrides.items() if v is not None}
    if status is not None:
        body["status"] = list(status)
    return RequestSpec("POST", f"{batch_path(batch)}/rerun", json=body)


def set_limits(batch: Any, max_cost_usd: Any, deadline: Any, time_limit_seconds: Any) -> RequestSpec:
    return RequestSpec("PATCH", f"{batch_path(batch)}/limits", json=limits_body(max_cost_usd, deadline, time_limit_seconds))


def reject(batch: Any, reason: str | None) -> RequestSpec:
    return RequestSpec("POST", f"{batch_path(batch)}/reject", json={"reason": reason} if reason else {})


def output(batch: Any, status: str | None, offset: int | None, limit: int | None, sample: bool = False) -> RequestSpec:
    query = {"format": "json", "status": status, "offset": offset, "limit": limit, "sample": "true" if sample else None}
    return RequestSpec("GET", f"{batch_path(batch)}/results", query=query)


def export(batch: Any, format: str, status: str | None) -> RequestSpec:
    if format not in ("jsonl", "csv"):
        raise ValueError(f"format must be 'jsonl' or 'csv', not {format!r}")
    accept = "text/csv" if format == "csv" else "application/x-ndjson"
    return RequestSpec("GET", f"{batch_path(batch)}/results", query={"format": format, "status": status}, accept=accept)


def completion(operation: str, body: dict[str, Any], timeout_seconds: int | None) -> RequestSpec:
    body = {k: v for k, v in body.items() if v is not None}
    if "items" in body:
        body["items"] = [{"content": i} if isinstance(i, str) else i for i in body["items"]]
    # The server holds the answer up to timeout_seconds (120 by default): the client waits a little longer,
    # since a retry after its own timeout would run the items again.
    wait = (timeout_seconds or 120) + 15
    return RequestSpec("POST", f"/v1/completions/{operation}", query={"timeout_seconds": timeout_seconds}, json=body, timeout=wait)


def upload(path: str | os.PathLike[str] | None, data: str | bytes | None, filename: str | None, format: str | None) -> RequestSpec:
    query = upload_query(path, data, filename, format)
    return RequestSpec(
        "POST",
        "/v1/files",
        query=query,
        # A file is reopened on a retry; data in memory is sent again as is.
        content=lambda: file_chunks(path, data),
        content_type="text/csv" if query["format"] == "csv" else "application/x-ndjson",
    )


def retrieve_file(file_id: str) -> RequestSpec:
    return RequestSpec("GET", f"/v1/files/{quote(file_id, safe='')}")


def create_key(tenant: str, name: str, scopes: list[str]) -> RequestSpec:
    # Never retried: a retry after a lost answer would make a second key.
    return RequestSpec("POST", "/v1/admin/keys", json={"tenant": tenant, "name": name, "scopes": scopes}, replayable=False)


def list_keys(tenant: str | None) -> RequestSpec:
    return RequestSpec("GET", "/v1/admin/keys", query={"tenant": tenant})


def revoke_key(key_id: str) -> RequestSpec:
    return RequestSpec("DELETE", f"/v1/admin/keys/{quote(key_id, safe='')}")


__all__ = ["normalise_items"]
