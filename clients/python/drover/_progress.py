"""The progress bar of ``batches.wait(progress=True)``: tqdm (the ``progress`` extra), in a notebook too."""

from __future__ import annotations

from typing import Any

from .models import Batch


class ProgressBar:
    """Items ended (succeeded, failed or cancelled) out of the batch's total, with its status and spend."""

    def __init__(self, batch_id: str, bar: Any = None) -> None:
        if bar is None:
            try:
                from tqdm.auto import tqdm
            except ImportError as e:  # pragma: no cover - depends on the environment
                raise ImportError("progress=True needs tqdm: pip install 'drover-client[progress]'") from e
            bar = tqdm(total=None, desc=batch_id, unit="item", dynamic_ncols=True)
        self.bar = bar

    def update(self, batch: Batch) -> None:
        total = batch.counts.total
        if self.bar.total != total:
            self.bar.total = total
        done = total - batch.counts.pending
        self.bar.n = done
        self.bar.set_postfix_str(f"{batch.status} ${batch.cost.spent_usd:.4f}", refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()
