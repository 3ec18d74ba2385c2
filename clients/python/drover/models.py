"""The API's response shapes as Pydantic models (the server's are ``domain/responses.ts``).

Every response is validated with one of these; a body that does not match raises
:class:`~drover.errors.DroverResponseError`. Models keep fields the server adds later in
``model_extra`` instead of failing every call, and statuses are plain strings so a status a
newer server adds does not break an older client.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, PrivateAttr

#: Statuses after which a batch never changes again.
TERMINAL_BATCH_STATUSES: frozenset[str] = frozenset(
    {"completed", "completed_with_failures", "failed", "cancelled", "timed_out", "budget_exhausted"}
)

#: Every batch status the API documents.
BATCH_STATUSES: tuple[str, ...] = (
    "queued",
    "running",
    "paused",
    "awaiting_budget",
    "cancelling",
    "completed",
    "completed_with_failures",
    "failed",
    "cancelled",
    "timed_out",
    "budget_exhausted",
)

#: Every result status.
RESULT_STATUSES: tuple[str, ...] = ("pending", "succeeded", "failed", "cancelled")


def is_terminal(status: str) -> bool:
    """Whether a batch in this status has ended for good."""
    return status in TERMINAL_BATCH_STATUSES


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=False)


class Usage(_Model):
    """Tokens; ``input_tokens`` includes cached ones, ``output_tokens`` reasoning ones."""

    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    reasoning_tokens: int


class ItemError(_Model):
    """An item's last error; a schema failure also carries the validator's ``errors`` and the ``raw_output``."""

    code: str
    message: str
    status_code: int | None = None
    errors: list[str] | None = None
    raw_output: str | None = None


class BatchCounts(_Model):
    total: int
    succeeded: int
    failed: int
    cancelled: int
    pending: int


class BatchBudget(_Model):
    needed_usd: float
    free_usd: float
    scope: str | None = None


class BatchCost(_Model):
    spent_usd: float
    reserved_usd: float
    budget: BatchBudget | None = None
    limit_usd: float | None
    estimated_total_usd: float | None
    #: What the items answered from the tenant's result cache cost when they were first paid for.
    cache_saved_usd: float | None = None
    #: What the providers' prompt caches took off the input price.
    prompt_cache_saved_usd: float | None = None


class BatchCache(_Model):
    """The batch's result cache setting (``use``, ``refresh``, ``off``) and how many items it answered."""

    mode: str
    hits: int


class BatchSample(_Model):
    """Sample first: what the sample showed, and the batch's cost projected from its real usage."""

    size: int
    succeeded: int
    failed: int
    success_rate: float
    cost_usd: float
    projected_total_usd: float


class BatchChunks(_Model):
    total: int
    completed: int
    running: int
    waiting: int


class Batch(_Model):
    """A batch: ``GET /v1/batches/:id``, and what submit, pause, resume, cancel and set_limits answer."""

    id: str
    object: str
    status: str
    model: str
    provider: str
    counts: BatchCounts
    usage: Usage
    cost: BatchCost
    deadline: datetime | None
    chunks: BatchChunks | None
    metadata: dict[str, Any] | None
    error: str | None
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    eta: datetime | None
    status_reason: str | None = None
    warnings: list[str] | None = None
    webhook_secret: str | None = None
    cache: BatchCache | None = None
    #: The batch whose items this one reruns.
    rerun_of: str | None = None
    #: Batches made from this one by a rerun, oldest first (on a retrieve).
    reruns: list[str] | None = None
    #: Sample first: what the sample showed, once it has run.
    sample: BatchSample | None = None
    #: True when the provider emulator served the batch: its answers are synthetic.
    synthetic: bool = False

    # The Pydantic model given to submit(response_model=…): results(batch) then come back typed.
    _response_model: Any = PrivateAttr(default=None)

    @property
    def is_terminal(self) -> bool:
        """Whether the batch has ended (any final status, failures included).

        ``completed_at`` is set exactly when a batch ends, so a final status a newer server
        adds still ends ``wait()``.
        """
        return is_terminal(self.status) or self.completed_at is not None

    @property
    def response_model(self) -> Any:
        """The Pydantic model the batch was submitted with in this process, or None."""
        return self._response_model


class Result(_Model):
    """One result row: an item's status, its output (parsed JSON for a json_schema batch), error, usage and cost."""

    id: str
    status: str
    output: Any = None
    error: ItemError | None
    usage: Usage | None
    cost_usd: float
    path: str | None
    #: For ``path == "cache"``: the batch whose paid answer this is.
    cached_from: str | None = None
    citations: list[dict[str, Any]] | None = None
    metadata: dict[str, Any] | None
    #: True when the provider emulator wrote this answer: it is synthetic.
    synthetic: bool = False


class ResultPage(_Model):
    """``GET /v1/batches/:id/results?format=json``: one page of rows and the ``total``."""

    object: str
    data: list[Result]
    offset: int
    limit: int
    total: int


class BatchList(_Model):
    """``GET /v1/batches``: newest first; ``next_cursor`` is None on the last page."""

    object: str
    data: list[Batch]
    next_cursor: str | None


class ChunkPlanEntry(_Model):
    index: int
    items: int
    bytes: int
    input_tokens: int


class ChunkEstimate(_Model):
    count: int
    plan: list[ChunkPlanEntry]


class OutputTokenEstimate(_Model):
    typical: int
    max: int
    per_item_max: int


class CostEstimate(_Model):
    low_usd: float
    expected_usd: float
    high_usd: float


class Pricing(_Model):
    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None
    batch_multiplier: float
    source: str


class BatchEstimate(_Model):
    """``POST /v1/batches/estimate``: the plan and its price; nothing stored."""

    object: str
    model: str
    provider: str
    item_count: int
    chunks: ChunkEstimate
    input_tokens: int
    input_token_method: str
    output_tokens: OutputTokenEstimate
    cost: CostEstimate
    pricing: Pricing


class IssueModel(_Model):
    path: str
    message: str
    line: int | None = None


class ValidationResult(_Model):
    """``POST /v1/batches/validate``: every problem, nothing created."""

    object: str
    valid: bool
    item_count: int | None = None
    chunk_count: int | None = None
    issue_count: int
    issues: list[IssueModel]


class FileObject(_Model):
    """``POST /v1/files``, ``GET /v1/files/:id``: an uploaded JSONL or CSV file for ``input_file_id``."""

    id: str
    object: str
    filename: str
    format: str
    bytes: int
    line_count: int
    created_at: datetime


class CompletionResponse(_Model):
    """``POST /v1/completions/:operation``: the results, in item order."""

    object: str
    batch_id: str
    results: list[Result]


class ApiKey(_Model):
    """A key as listed: never the key itself."""

    id: str
    object: str
    tenant: str
    name: str
    scopes: list[str]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKey):
    """The only answer that carries the key (``drv_…``)."""

    key: str


class ApiKeyList(_Model):
    object: str
    data: list[ApiKey]


class DownloadResult(_Model):
    """What ``batches.download`` wrote."""

    path: str
    bytes: int
