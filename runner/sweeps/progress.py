"""What a sweep shows while it runs: one bar over its jobs, not a block of lines per job.

In a terminal a tqdm bar on stderr with the counts by status and the time left; anywhere else
(a pipe, a log file) a plain line about every tenth of the jobs, without colour or carriage
returns. Each job's own lines are in its folder's job.log. The first few failed jobs are named
as they happen; the sweep summary lists them all at the end. The time left is estimated from
the jobs that ran: a job found done already (reused) costs milliseconds and says nothing of
the rest, so a sweep that has only reused jobs so far gives no estimate.
"""

import sys
import time
from collections import Counter

from runner.progress import say
from runner.text import clip, terminal_width

NAMED_FAILURES = 5  # failures named as they happen; the rest are counted
# tqdm's own estimate would count reused jobs: the time left is this bar's postfix instead
BAR = "{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}{postfix}]"
REUSED = "reused"  # what a launcher that counts reused jobs apart (Ray) calls their status


class SweepProgress:
    """Counts over the whole sweep, fed batch by batch (``add``) and job by job (``finished``).

    ``expected`` is the sweep's size where it is known up front (a search's n_trials); a grid's
    batches add their jobs as they come.
    """

    def __init__(self, expected=None, interactive=None):
        self.total = expected or 0
        self.submitted = 0
        self.counts = Counter()
        self.started = time.monotonic()
        self.failures_named = 0
        self.reused = 0  # jobs found done already, left out of the time-left estimate
        self.interactive = sys.stderr.isatty() if interactive is None else interactive
        self.bar = None
        self.next_line = 0

    def add(self, n):
        """``n`` more jobs were sent (one batch)."""
        self.submitted += n
        self.total = max(self.total, self.submitted)
        if self.bar is not None:
            self.bar.total = self.total
            self.bar.refresh()
        elif self.interactive and self.total > 1:
            from tqdm import tqdm

            self.bar = tqdm(
                total=self.total, unit="job", leave=False, file=sys.stderr, bar_format=BAR
            )
            self.bar.update(self.done)

    @property
    def done(self):
        return sum(self.counts.values())

    def finished(self, job, status, message="", reused=False):
        """Job ``job`` ended with ``status``; ``reused``: it was found done and not run."""
        self.counts[status] += 1
        self.reused += bool(reused) or status == REUSED
        if status not in ("ok", "diverged", REUSED) and self.failures_named < NAMED_FAILURES:
            self.failures_named += 1
            said = message if message.startswith(f"{status}:") else f"{status}: {message}"
            self._say(clip(f"job {job}: {said}", terminal_width()))
        if self.bar is not None:
            self.bar.update(1)
            left = self._left()
            self.bar.set_postfix_str(self._counts() + (f"; {left}" if left else ""), refresh=False)
        elif self.done >= self.next_line or self.done == self.total:
            self.next_line = self.done + max(1, self.total // 10)
            say(f"jobs {self.done}/{self.total}: {self._counts()}; {self._times()}")

    def _say(self, text):
        if self.bar is not None:
            self.bar.write(text, file=sys.stderr)
        else:
            say(text, file=sys.stderr)

    def _counts(self):
        return ", ".join(f"{n} {status}" for status, n in sorted(self.counts.items()))

    def _times(self):
        elapsed = time.monotonic() - self.started
        left = self._left()
        return f"{elapsed:.1f} s" + (f", {left}" if left else "")

    def _left(self):
        """``"about 12 s left"`` from the jobs that ran, or ``""`` before any has."""
        ran = self.done - self.reused
        if not ran or self.done >= self.total:
            return ""
        elapsed = time.monotonic() - self.started
        left = elapsed / ran * (self.total - self.done)
        return f"about {left:.0f} s left" if left >= 0.5 else "less than 1 s left"

    def close(self, at_once=False):
        """Take the bar off the screen (a later batch of the sweep starts a new one)."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None
