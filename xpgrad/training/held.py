"""One rank's work that may fail on it alone, held until the ranks agree on it (``_Held``), so
that every rank of a data-parallel run stops with one message instead of one rank aborting the
job; on one process an error raises at once.

>>> _Held(None)(int, "7")
7
"""
from __future__ import annotations

from . import TrainingError


class _Held:
    """Runs the work of one rank that may fail on it alone: rank 0's writes (event files,
    checkpoints, history.json), and each rank's forward pass, optimizer step and evaluation
    (a MemoryError, a bug). On one process an error raises at once. On several ranks it is
    held (returning None; later actions are skipped) until the ranks agree on it -- with a flag
    in the next reduction they make anyway (the step's metrics, the evaluation), or at the end
    of the run -- and then raised on every rank (``raise_together``), so that all of them stop
    with one message instead of one rank failing and aborting the job. An error the ranks have
    already agreed on (``failed_rank`` set) passes through."""

    def __init__(self, dp):
        self.dp = dp
        self.error = None

    def __call__(self, action, *args, **kwargs):
        if self.dp is None:
            return action(*args, **kwargs)
        if self.error is None:
            try:
                return action(*args, **kwargs)
            except Exception as e:
                if getattr(e, "failed_rank", None) is not None:
                    raise
                self.error = e
        return None

    def agree(self, failed=None) -> None:
        """Raise the held error on every rank if one is held on any: ``failed`` as reduced
        over the ranks (None: reduce it now, one small collective)."""
        from ..distributed.agreement import raise_together

        if self.dp is not None and failed is not False:
            raise_together(self.dp.world, self.error, "the check for a failure on any rank")

    def raise_after_logs(self, error, *logs) -> None:
        """Write the logs (``_write_logs(*logs)``) of a run that ``error`` (a TrainingError
        every rank raised) stopped, then raise it -- naming the logs' own failure, or a write
        failure held from before, if they could not be written (it would be lost otherwise)."""
        from .loop import _write_logs

        try:
            self(_write_logs, *logs)
        except Exception as e:               # one process: raised at once
            self.error = e
        if self.error is None:
            raise error
        raise TrainingError(f"{error}; the logs were not written either "
                            f"({type(self.error).__name__}: {self.error})") from error
