"""Structured output from Pydantic models: the schema sent, typed rows back, failures kept as typed errors."""

from __future__ import annotations

import datetime
from typing import Literal

import pydantic
import pytest

from drover import (
    Drover,
    ItemFailedError,
    OutputParseError,
    TypedCompletion,
    TypedResult,
    json_schema_for,
    response_format_for,
    strict_compatible,
)

from .conftest import Stack


class Line(pydantic.BaseModel):
    description: str
    amount: float = pydantic.Field(ge=0)


class Invoice(pydantic.BaseModel):
    """An invoice read from a document."""

    number: str = pydantic.Field(description="The invoice number as printed")
    issued: datetime.date
    currency: Literal["EUR", "USD", "GBP"]
    lines: list[Line]
    billed_to: Line = pydantic.Field(description="a nested model with a description of its own")
    note: str | None = None
    paid: bool = False


def invoices(n: int) -> list[dict]:
    return [{"id": f"inv-{i}", "content": f"Invoice {i}: 3 kettles at 20 EUR, issued 2026-01-{i % 28 + 1:02d}"} for i in range(n)]


def test_the_schema_of_a_model_is_made_strict_compatible() -> None:
    rf = response_format_for(Invoice)
    js = rf["json_schema"]
    assert js["name"] == "Invoice" and js["strict"] is True
    assert js["description"] == "An invoice read from a document."
    schema = js["schema"]
    assert schema["required"] == ["number", "issued", "currency", "lines", "billed_to", "note", "paid"], "defaults are required too"
    assert schema["additionalProperties"] is False
    assert "default" not in schema["properties"]["paid"] and "default" not in schema["properties"]["note"]
    assert schema["properties"]["note"]["anyOf"] == [{"type": "string"}, {"type": "null"}]
    # A $ref with a sibling (the field's description) is inlined: strict mode takes $ref alone.
    billed = schema["properties"]["billed_to"]
    assert "$ref" not in billed and billed["description"].startswith("a nested model")
    assert billed["additionalProperties"] is False and billed["required"] == ["description", "amount"]
    assert schema["$defs"]["Line"]["additionalProperties"] is False
    assert schema["properties"]["lines"]["items"] == {"$ref": "#/$defs/Line"}
    assert strict_compatible(schema)

    class Loose(pydantic.BaseModel):
        tags: dict[str, int]

    assert "strict" not in response_format_for(Loose)["json_schema"], "a free-form object cannot be strict"
    assert response_format_for(Loose, strict=True)["json_schema"]["strict"] is True
    assert response_format_for(Invoice, name="inv", strict=False)["json_schema"] == {
        "name": "inv",
        "schema": json_schema_for(Invoice),
        "description": "An invoice read from a document.",
    }
    with pytest.raises(TypeError, match="Pydantic model"):
        response_format_for(dict)  # type: ignore[arg-type]


def test_a_batch_with_a_nested_model_returns_invoice_objects(client: Drover) -> None:
    batch = client.batches.submit_and_wait(model="gpt-4.1-mini", items=invoices(12), response_model=Invoice, poll_interval=0.2, timeout=60)
    assert batch.status == "completed", batch
    rows = list(client.batches.results(batch))
    assert len(rows) == 12
    for row in rows:
        assert row.ok, row.error
        invoice = row.output
        assert isinstance(invoice, Invoice)
        assert isinstance(invoice.issued, datetime.date)
        assert invoice.currency in ("EUR", "USD", "GBP")
        assert all(isinstance(line, Line) and line.amount >= 0 for line in invoice.lines)
        assert isinstance(invoice.billed_to, Line)
        assert row.raw_output == row.result.output
    # The same rows typed after the fact, by id: response_model= on results().
    again = list(client.batches.results(batch.id, response_model=Invoice))
    assert [r.output for r in again] == [r.output for r in rows]


def test_failures_are_kept_as_typed_errors_with_the_raw_output(client: Drover, no_faults: Stack) -> None:
    # Every 3rd answer of the provider is truncated JSON; with one attempt those items fail.
    no_faults.set_faults({"malformed_json": {"every": 3, "once": False}})
    batch = client.batches.submit_and_wait(
        model="gpt-4.1-mini", mode="batch", items=invoices(9), response_model=Invoice, max_attempts=1, poll_interval=0.2, timeout=60
    )
    no_faults.set_faults({})
    assert batch.status == "completed_with_failures", batch
    assert (batch.counts.succeeded, batch.counts.failed) == (6, 3)
    rows: list[TypedResult[Invoice]] = list(client.batches.results(batch))
    failed = [r for r in rows if not r.ok]
    assert len(failed) == 3
    for row in failed:
        assert row.status == "failed" and row.output is None
        assert isinstance(row.error, ItemFailedError)
        assert row.error.code == "invalid_json"
        assert row.error.raw_output and row.raw_output == row.error.raw_output
        with pytest.raises(pydantic.ValidationError):
            Invoice.model_validate_json(row.raw_output)  # truncated: what the model wrote, kept as is
        with pytest.raises(ItemFailedError):
            row.unwrap()
    assert all(isinstance(r.output, Invoice) for r in rows if r.ok)

    # An output the schema allowed but the caller's model refuses: an OutputParseError on the row, not raised.
    class StricterInvoice(Invoice):
        po_number: str

    parsed = list(client.batches.results(batch, response_model=StricterInvoice, status="succeeded"))
    assert len(parsed) == 6
    for row in parsed:
        assert not row.ok and isinstance(row.error, OutputParseError)
        assert row.error.item_id == row.id
        assert row.raw_output == row.result.output and "po_number" not in row.raw_output
        assert any(i.path == "po_number" for i in row.error.issues)
        assert isinstance(row.error.validation_error, pydantic.ValidationError)


def test_completions_custom_and_extract_take_a_response_model(client: Drover) -> None:
    class Sentiment(pydantic.BaseModel):
        label: Literal["positive", "negative"]

    done = client.completions.custom(
        model="gpt-4.1-mini", system_prompt="Label the sentiment.", items=["Loved it", "Broke in a day"], response_model=Sentiment
    )
    assert isinstance(done, TypedCompletion)
    assert [r.id for r in done.results] == ["0", "1"]
    assert all(isinstance(r.output, Sentiment) for r in done.results)

    extracted = client.completions.extract(
        model="gpt-4.1-mini", extraction_instructions="Read the invoice.", items=invoices(2), response_model=Invoice
    )
    assert all(r.ok and isinstance(r.output, Invoice) for r in extracted.results), [r.error for r in extracted.results]


def test_to_pandas_gives_one_column_per_output_field(client: Drover) -> None:
    pd = pytest.importorskip("pandas", reason="pandas is the optional 'pandas' extra")

    class Sentiment(pydantic.BaseModel):
        label: Literal["positive", "negative"]
        score: float

    # A DataFrame in: columns map as an uploaded CSV's do (id, content, metadata.<key>, the rest into inputs).
    reviews = pd.DataFrame(
        {
            "content": [f"review {i}" for i in range(8)],
            "product": ["kettle", "toaster"] * 4,
            "stars": [1, 5, 3, 4, 2, 5, 1, 4],
            "metadata.source": ["shop"] * 8,
        }
    )
    batch = client.batches.submit_and_wait(
        model="gpt-4.1-mini",
        user_prompt_template="A {stars}-star review of a {product}: {content}",
        items=reviews,
        response_model=Sentiment,
        poll_interval=0.2,
        timeout=60,
    )
    assert batch.status == "completed", batch
    first = client.batches.retrieve_item(batch, "0")
    assert first.metadata == {"source": "shop"}
    via_ndjson = client.batches.submit_ndjson(reviews, model="gpt-4.1-mini", user_prompt_template="{product}: {content}")
    assert via_ndjson.counts.total == 8

    # A DataFrame out: one column per output field.
    df = client.batches.to_pandas(batch)
    assert isinstance(df, pd.DataFrame)
    assert len(df) == 8
    assert list(df.columns[:4]) == ["id", "status", "output.label", "output.score"]
    assert set(df["output.label"]) <= {"positive", "negative"}
    assert df["output.score"].dtype.kind == "f"
    assert (df["cost_usd"] > 0).all() and (df["input_tokens"] > 0).all()
    assert sorted(df["id"]) == [str(i) for i in range(8)]
    untyped = client.batches.to_pandas(batch.id, status="failed")
    assert len(untyped) == 0
