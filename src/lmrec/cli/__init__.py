"""The command line: the only package that reads argv or config files. Each verb is a module
(:mod:`.train`, :mod:`.recommend`, :mod:`.evaluate`, :mod:`.export`, :mod:`.demo`, :mod:`.ask`,
:mod:`.serve`, :mod:`.additems`); their options are generated from the config dataclasses
(:mod:`.options`), and ``lmrec train --config`` reads a run file (:mod:`.runfile`)."""

from lmrec.cli.parser import build_parser, main, run

__all__ = ["build_parser", "main", "run"]
