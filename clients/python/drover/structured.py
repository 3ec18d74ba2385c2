"""Structured output from a Pydantic model: its JSON Schema in, typed objects out.

``response_format_for(Invoice)`` builds a batch's ``response_format`` from the model's JSON
Schema, made to fit the strict subset the providers (and Drover's ``extract``) require: every
object closed (``additionalProperties: false``) and listing all its properties in ``required``,
no ``default`` keyword, and no ``$ref`` with sibling keywords. A field with a default is then
required of the model, which must write a value of the field's type (``Optional[X] = None``
stays nullable), so every answer still validates against the Pydantic model.

``parse_result(row, Invoice)`` turns one result row into a :class:`TypedResult`: ``output`` is an
``Invoice`` when the row succeeded and its output validates; otherwise ``error`` holds an
:class:`~drover.errors.ItemFailedError` (the server's error, with the model's ``raw_output``) or
an :class:`~drover.errors.OutputParseError` (the output did not validate), never raised.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

import pydantic

from .errors import Issue, ItemFailedError, OutputParseError
from .models import ItemError, Result, Usage

T = TypeVar("T", bound=pydantic.BaseModel)

_NAME = re.compile(r"[^A-Za-z0-9_-]")

Json = dict[str, Any]


def _is_object(s: Json) -> bool:
    t = s.get("type")
    return t == "object" or (isinstance(t, list) and "object" in t) or isinstance(s.get("properties"), dict)


def _resolve(root: Json, ref: str) -> Json:
    if not ref.startswith("#/"):
        raise TypeError(f"only local $refs can be inlined, not {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return cast(Json, node)


def _strict(node: Any, root: Json) -> Any:
    if isinstance(node, list):
        return [_strict(n, root) for n in node]
    if not isinstance(node, dict):
        return node
    # A $ref with siblings (Pydantic's way of adding a field's description) is inlined: strict
    # mode takes a $ref only on its own.
    if isinstance(node.get("$ref"), str) and len(node) > 1:
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        node = {**copy.deepcopy(_resolve(root, node["$ref"])), **siblings}
    out: Json = {}
    for key, value in node.items():
        if key == "default":
            continue
        if key in ("properties", "$defs", "definitions", "patternProperties") and isinstance(value, dict):
            out[key] = {name: _strict(sub, root) for name, sub in value.items()}
        elif key in ("items", "anyOf", "oneOf", "allOf", "prefixItems", "additionalProperties", "not"):
            out[key] = _strict(value, root)
        else:
            out[key] = value
    if _is_object(out):
        if "additionalProperties" not in out:
            out["additionalProperties"] = False
        if isinstance(out.get("properties"), dict):
            out["required"] = list(out["properties"])
    return out


def strict_compatible(s: Any) -> bool:
    """OpenAI's strict rules a schema can break: every object closed and all its properties required."""
    if isinstance(s, list):
        return all(strict_compatible(x) for x in s)
    if not isinstance(s, dict):
        return True
    if _is_object(s):
        if s.get("additionalProperties") is not False:
            return False
        props = s.get("properties") if isinstance(s.get("properties"), dict) else {}
        if not props or set(props) - set(s.get("required") or []):
            return False
    children: list[Any] = []
    for key in ("properties", "$defs", "definitions"):
        if isinstance(s.get(key), dict):
            children.extend(s[key].values())
    for key in ("items", "anyOf", "oneOf", "allOf", "prefixItems"):
        if key in s:
            children.append(s[key])
    return all(strict_compatible(c) for c in children)


def json_schema_for(model: type[pydantic.BaseModel]) -> Json:
    """The model's JSON Schema (validation side), made strict-compatible where it can be."""
    if not (isinstance(model, type) and issubclass(model, pydantic.BaseModel)):
        raise TypeError(f"response_model must be a Pydantic model class, not {model!r}")
    raw = model.model_json_schema(mode="validation")
    schema = cast(Json, _strict(raw, raw))
    if schema.get("type") != "object":
        raise TypeError("the root of a response schema must be an object (providers require it)")
    return schema


def response_format_for(
    model: type[pydantic.BaseModel],
    *,
    name: str | None = None,
    description: str | None = None,
    strict: bool | None = None,
) -> Json:
    """A batch's ``response_format`` from a Pydantic model.

    ``name`` defaults to the model's class name (letters, digits, ``_`` and ``-``, at most 64);
    ``description`` to its docstring. ``strict`` defaults to True when the schema meets the strict
    rules (a ``dict[str, X]`` field, say, cannot) and is left off otherwise.
    """
    schema = json_schema_for(model)
    json_schema: Json = {"name": name or (_NAME.sub("_", model.__name__)[:64] or "output"), "schema": schema}
    doc = description if description is not None else schema.get("description")
    if doc:
        json_schema["description"] = doc
    if strict if strict is not None else strict_compatible(schema):
        json_schema["strict"] = True
    return {"type": "json_schema", "json_schema": json_schema}


@dataclass
class TypedResult(Generic[T]):
    """A result row whose output was checked against a Pydantic model.

    ``output`` is the model instance when ``ok``; otherwise it is None and ``error`` says why:
    :class:`~drover.errors.ItemFailedError` for an item the server could not answer (with the
    model's ``raw_output`` when its answer failed the schema), or
    :class:`~drover.errors.OutputParseError` for an output the model class refused.
    ``raw_output`` keeps what the model wrote in every case where there was something.
    """

    id: str
    status: str
    output: T | None
    error: ItemFailedError | OutputParseError | None
    raw_output: Any
    usage: Usage | None
    cost_usd: float
    path: str | None
    metadata: dict[str, Any] | None
    citations: list[dict[str, Any]] | None = None
    result: Result | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        """Whether the item succeeded and its output is a valid model instance."""
        return self.error is None and self.output is not None

    def unwrap(self) -> T:
        """The output, or raise the row's error (``pending`` rows raise ValueError)."""
        if self.error is not None:
            raise self.error
        if self.output is None:
            raise ValueError(f"item {self.id!r} has no output yet (status {self.status})")
        return self.output


def _issues(err: pydantic.ValidationError) -> list[Issue]:
    out: list[Issue] = []
    for e in err.errors():
        path = ""
        for part in e.get("loc", ()):
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
        out.append(Issue(path=path or "(output)", message=e.get("msg", "invalid")))
    return out


def _item_failed(row: Result, error: ItemError | None) -> ItemFailedError:
    if error is None:
        return ItemFailedError(row.id, code=row.status, message=f"the item is {row.status}")
    return ItemFailedError(
        row.id,
        code=error.code,
        message=error.message,
        raw_output=error.raw_output,
        errors=error.errors,
        status_code=error.status_code,
    )


def parse_result(row: Result, model: type[T]) -> TypedResult[T]:
    """One row as a :class:`TypedResult` of ``model``; nothing is raised for a failed or invalid row."""
    output: T | None = None
    error: ItemFailedError | OutputParseError | None = None
    raw: Any = None
    if row.status == "succeeded":
        raw = row.output
        try:
            output = model.model_validate(row.output)
        except pydantic.ValidationError as e:
            error = OutputParseError(row.id, row.output, e, _issues(e))
    elif row.status in ("failed", "cancelled"):
        error = _item_failed(row, row.error)
        raw = row.error.raw_output if row.error else None
    return TypedResult(
        id=row.id,
        status=row.status,
        output=output,
        error=error,
        raw_output=raw,
        usage=row.usage,
        cost_usd=row.cost_usd,
        path=row.path,
        metadata=row.metadata,
        citations=row.citations,
        result=row,
    )
