"""The batch progress bar: cases done, ETA, and counts per modality.

Why per-modality counts: in a mixed batch the ETA alone hides that, say,
every CMR case is failing; the postfix shows it while the batch runs.
"""

from __future__ import annotations

import sys
from collections import Counter

from agent.batch.markers import CaseRecord


class BatchProgress:
    def __init__(self, total: int, quiet: bool = False, initial_note: str | None = None):
        from tqdm import tqdm

        tqdm.monitor_interval = 0  # no monitor thread: the local engine forks workers after this
        self.quiet = quiet
        self.counts: Counter[str] = Counter()
        self.failed = 0
        self.bar = tqdm(total=total, unit="case", desc="batch", file=sys.stderr, disable=quiet, dynamic_ncols=True,
                        smoothing=0.1, bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]")  # fmt: skip
        if initial_note and not quiet:
            self.bar.write(initial_note, file=sys.stderr)

    def update(self, record: CaseRecord) -> None:
        if record.status == "ok":
            for m in record.modalities or ["(none)"]:
                self.counts[m] += 1
        else:
            self.failed += 1
            why = record.problems[0].problem if record.problems else "failed"
            if not self.quiet:
                self.bar.write(f"failed: {record.case_id} — {why}", file=sys.stderr)
        parts = [f"{m} {n}" for m, n in sorted(self.counts.items())]
        if self.failed:
            parts.append(f"failed {self.failed}")
        self.bar.set_postfix_str(" · ".join(parts), refresh=False)
        self.bar.update(1)

    def message(self, text: str) -> None:
        if not self.quiet:
            self.bar.write(text, file=sys.stderr)

    def close(self) -> None:
        self.bar.close()
