"""``python -m lmrec``: the command line."""

from lmrec.cli import main

raise SystemExit(main())
