"""The progress bar of ``batches.wait(progress=True)``: tqdm (the ``progress`` extra), in a notebook too."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .models import Batch


class ProgressBar:
    """Items ended (succeeded, failed or cancelled) out of the batch's total, with its status and spend.

    The tqdm bar is made at the first state polled, so it starts with the batch's total.
    """

    def __init__(self, batch_id: str, bar: Any = None) -> None:
        self._make: Callable[[int], Any] | None = None
        if bar is None:
            try:
                from tqdm.auto import tqdm
            except ImportError as e:  # pragma: no cover - depends on the environment
                raise ImportError("progress=True needs tqdm: pip install 'drover-client[progress]'") from e

            def make(total: int) -> Any:
                return tqdm(total=total, desc=batch_id, unit="item", dynamic_ncols=True)

            self._make = make
        self.bar = bar

    def update(self, batch: Batch) -> None:
        total = batch.counts.total
        if self.bar is None and self._make is not None:
            self.bar = self._make(total)
        elif self.bar.total != total:
            self.bar.total = total
        self.bar.n = total - batch.counts.pending
        self.bar.set_postfix_str(f"{batch.status} ${batch.cost.spent_usd:.4f}", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
