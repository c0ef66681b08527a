"""Progress bars of batched runs, counted in rows.

``progress=None`` shows a bar when stderr is a terminal and nothing otherwise;
``True`` forces one, ``False`` silences it. The bar is tqdm's when tqdm is
importable (the optional extra ``symgraph[progress]``), else :class:`TextBar`: rows
done (of the total when it is known), rows/s and the time left, redrawn in place
at most ten times a second, ending with a newline.
"""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO

__all__ = ["NullBar", "ProgressBar", "TextBar", "make_bar", "wants_bar"]


class ProgressBar(Protocol):
    """What a batched run calls: ``update(rows)`` per finished batch, ``close()`` once."""

    def update(self, n: int) -> None: ...

    def close(self) -> None: ...


class NullBar:
    """A bar that shows nothing."""

    def update(self, n: int) -> None:
        """Count ``n`` more rows (ignored)."""

    def close(self) -> None:
        """End the bar (nothing to end)."""


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _rate(rows_per_s: float) -> str:
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if rows_per_s >= scale:
            return f"{rows_per_s / scale:.1f}{suffix}"
    return f"{rows_per_s:.0f}"


class TextBar:
    """A plain stderr bar: ``desc: 12,800/200,000 rows (6%) | 45.1k rows/s | ETA 0:04``.

    Without a total it shows ``desc: 12,800 rows | 45.1k rows/s``. The rate is the
    average since the bar started; it redraws with ``\\r`` at most every
    ``min_interval`` seconds and the final line (with the elapsed time) ends with a
    newline.

    Args:
        total: rows expected, or ``None`` when unknown.
        desc: a label shown before the counts.
        file: where to draw (default ``sys.stderr``, looked up when the bar is made).
        min_interval: the shortest time between two redraws, in seconds.
    """

    def __init__(self, total: int | None = None, desc: str = "", file: TextIO | None = None,
                 min_interval: float = 0.1):
        self.total = total
        self.desc = desc
        self.file = sys.stderr if file is None else file
        self.min_interval = min_interval
        self.done = 0
        self.start = time.perf_counter()
        self._last_draw = -1.0
        self._width = 0
        self._closed = False

    def text(self, final: bool = False) -> str:
        """The bar's current line (without ``\\r``)."""
        elapsed = max(time.perf_counter() - self.start, 1e-9)
        rate = self.done / elapsed
        head = f"{self.desc}: " if self.desc else ""
        if self.total is not None:
            share = 100.0 * self.done / self.total if self.total else 100.0
            counts = f"{self.done:,}/{self.total:,} rows ({share:.0f}%)"
        else:
            counts = f"{self.done:,} rows"
        parts = [head + counts, f"{_rate(rate)} rows/s"]
        if final:
            parts.append(f"in {_duration(elapsed)}")
        elif self.total is not None:
            left = max(self.total - self.done, 0)
            parts.append("ETA " + (_duration(left / rate) if rate > 0 else "?"))
        return " | ".join(parts)

    def _draw(self, final: bool = False) -> None:
        line = self.text(final)
        pad = " " * max(self._width - len(line), 0)  # wipe what a longer line left
        self._width = len(line)
        self.file.write("\r" + line + pad + ("\n" if final else ""))
        self.file.flush()

    def update(self, n: int) -> None:
        """Count ``n`` more rows; redraw if ``min_interval`` has passed."""
        self.done += int(n)
        now = time.perf_counter()
        if now - self._last_draw >= self.min_interval:
            self._last_draw = now
            self._draw()

    def close(self) -> None:
        """Draw the final line and end it with a newline (once)."""
        if not self._closed:
            self._closed = True
            self._draw(final=True)


def wants_bar(progress: bool | None) -> bool:
    """Whether a run with this ``progress`` argument shows a bar (``None``: when
    stderr is a terminal).

    Raises:
        TypeError: for anything but ``None``, ``True`` or ``False``.
    """
    if progress is None:
        isatty = getattr(sys.stderr, "isatty", None)
        try:
            return bool(isatty and isatty())
        except ValueError:  # a closed stream
            return False
    if not isinstance(progress, bool):
        raise TypeError(f"progress must be None, True or False, got {progress!r}")
    return progress


def make_bar(progress: bool | None, total: int | None, desc: str = "") -> ProgressBar:
    """The bar of a run: a :class:`NullBar` when :func:`wants_bar` says no, else
    tqdm's bar (counting rows) when tqdm is importable, else a :class:`TextBar`."""
    if not wants_bar(progress):
        return NullBar()
    try:
        from tqdm import tqdm
    except ImportError:
        return TextBar(total, desc)
    scale = total is None or total >= 10_000  # 200k rows as 200k; 5 rows not as 5.00
    return tqdm(total=total, desc=desc or None, unit="rows", unit_scale=scale,
                file=sys.stderr, mininterval=0.1, dynamic_ncols=True, leave=True)
