"""The ``lmrec`` parser: global options and one sub-command per verb, each in its module."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from lmrec.cli.additems import add_add_items_parser
from lmrec.cli.ask import add_ask_parser
from lmrec.cli.demo import add_demo_parser
from lmrec.cli.evaluate import add_evaluate_parser
from lmrec.cli.export import add_export_parser
from lmrec.cli.importer import add_import_parser
from lmrec.cli.recommend import add_recommend_parser
from lmrec.cli.serve import add_serve_parser
from lmrec.cli.train import add_train_parser
from lmrec.config.progress import set_quiet, show_progress


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lmrec", description="Language models as recommender systems (P5-style)."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    parser.add_argument(
        "--threads", type=int, default=None, help="PyTorch threads (default: all cores)"
    )
    parser.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bars (lmrec's, transformers' and accelerate's) and no third-party "
        "warnings (bars are only drawn on a terminal anyway)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_train_parser(sub)
    add_recommend_parser(sub)
    add_evaluate_parser(sub)
    add_export_parser(sub)
    add_demo_parser(sub)
    add_ask_parser(sub)
    add_serve_parser(sub)
    add_import_parser(sub)
    add_add_items_parser(sub)
    return parser


def quiet_progress(quiet: bool) -> None:
    """Bars only on a terminal and never under --quiet: lmrec's own (see
    :mod:`lmrec.config.progress`) and transformers' ("Loading weights", "Writing model
    shards"); --quiet also keeps transformers' and accelerate's warnings (accelerate's
    "Removed shared tensor" on every save of a tied T5) out of the log."""
    set_quiet(quiet)
    if show_progress():
        return
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if quiet:
        hf_logging.set_verbosity_error()
        logging.getLogger("accelerate").setLevel(logging.ERROR)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    quiet_progress(args.quiet)
    try:
        return args.func(args)
    except (ValueError, KeyError, FileNotFoundError, LookupError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def run(argv: Sequence[str] | None = None) -> int:
    """The ``lmrec`` command: :func:`main` with one exit status for every refusal. A command's
    own checks stop it with ``SystemExit("error: ...")``, which Python would report as status
    1; here it is printed to stderr and the status is 2, as for argparse's usage errors and the
    library's ``ValueError``/``KeyError``/``OSError`` (:func:`main`). So: 0 done, 2 refused
    (bad input, nothing changed), 1 an unexpected failure (a traceback)."""
    try:
        return main(argv)
    except SystemExit as stop:
        if isinstance(stop.code, str):
            print(stop.code, file=sys.stderr)
            return 2
        raise
