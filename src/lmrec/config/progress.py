"""Whether progress bars are drawn: one switch every bar of lmrec asks.

A bar is a stream of carriage-return updates meant for a person watching a terminal; in a log
file or a pipe it is kilobytes of noise. So a bar is drawn only when its caller wants one, the
run is not quiet (``lmrec --quiet``), and stderr (where tqdm writes) is a terminal.
"""

from __future__ import annotations

import sys

_quiet = False


def set_quiet(quiet: bool) -> None:
    """Silence (or allow again) every progress bar of this process."""
    global _quiet
    _quiet = bool(quiet)


def is_quiet() -> bool:
    """Whether :func:`set_quiet` silenced the bars."""
    return _quiet


def show_progress(wanted: bool = True) -> bool:
    """True when a bar should be drawn: ``wanted``, not quiet, and stderr a terminal."""
    if not wanted or _quiet:
        return False
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())
