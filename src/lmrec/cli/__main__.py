"""``python -m lmrec.cli`` (as ``torchrun -m lmrec.cli`` and ``accelerate launch -m lmrec.cli``
start it): the command line."""

from lmrec.cli import run

raise SystemExit(run())
