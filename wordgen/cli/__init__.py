"""The `wordgen` command: the only module that parses arguments or prints (the option
tables themselves are in options.py, built from the settings' fields).

    wordgen lab [--corpus BOOK]          train a word model on Shakespeare or your book, then show every sampler
    wordgen train --corpus X --out DIR   train on any corpus with any tokenizer
    wordgen generate DIR --prompt TEXT   sample text from a checkpoint, printed as it comes (or --output FILE)
    wordgen evaluate DIR --corpus X      bits per character / perplexity per word on held-out text
    wordgen corpora                      list the built-in corpora and plays
    wordgen serve DIR [DIR]              a local web playground over one or two checkpoints

Bad input (a missing file, an unknown tokenizer, a negative temperature, a
damaged checkpoint, a device this machine lacks, an option argparse cannot read...)
prints one line, `wordgen: error: ...`, and exits with status 2 -- no traceback, and
nothing already saved is touched; the settings a library error names (`TrainConfig.epochs`)
are shown as their flags (`--epochs`). A runtime failure (a full disk, a process of a
multi-process run lost, a crash) is one line too, with status 1; WORDGEN_DEBUG=1 shows a
crash's traceback instead. The statuses per error kind: wordgen.errors. Ctrl-C or SIGTERM
during training finishes the step, saves, prints `wordgen: interrupted at step N; resume
with: ...` and exits with 130 / 143 (wordgen.training.stopping).
"""

from __future__ import annotations

import os
import sys
import warnings

from wordgen.cli.checkpoints import cmd_corpora, cmd_evaluate, cmd_generate, cmd_serve
from wordgen.cli.training import cmd_compare, cmd_lab, cmd_train
from wordgen.errors import DEBUG_VARIABLE, WordgenError, failure_line
from wordgen.memory import limit_arenas
from wordgen.options import build_parser, for_command_line, resume_command
from wordgen.training.stopping import Interrupted, exit_on_next_signal, sigterm_interrupts

COMMANDS = {"lab": cmd_lab, "train": cmd_train, "generate": cmd_generate,
            "evaluate": cmd_evaluate, "corpora": cmd_corpora, "compare": cmd_compare, "serve": cmd_serve}


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"wordgen: warning: {message}", file=sys.stderr)


def _import_plugins(modules: list[str]) -> None:
    import importlib

    if modules and os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # `--plugin mytok` finds ./mytok.py, as `python -m` would
    for name in modules:
        try:
            importlib.import_module(name.removesuffix(".py"))
        except ImportError as err:
            raise WordgenError(f"cannot import plugin {name!r}: {err}") from None


def _error_line(message: str) -> None:
    # One write of the whole line: the processes of a torchrun run share one stderr, and
    # separate writes of the text and its newline interleave with each other's.
    sys.stderr.write(f"wordgen: error: {message}\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    limit_arenas()  # before any thread allocates (wordgen.memory)
    warnings.showwarning = _show_warning
    with sigterm_interrupts():  # also puts the signal handlers back as found when main returns
        try:
            args = build_parser().parse_args(argv)
            args.argv = argv  # `train --nproc N` starts N copies of this command line
            _import_plugins(args.plugin)
            COMMANDS[args.command](args)
        except WordgenError as err:
            _error_line(for_command_line(err))
            return err.exit_code
        except Interrupted as err:  # before KeyboardInterrupt, which it subclasses
            exit_on_next_signal()
            if os.environ.get("RANK", "0") in ("", "0"):  # one process of a torchrun run speaks for all
                print(f"wordgen: {err.describe(resume_command(err.checkpoint))}", file=sys.stderr)
            return err.exit_code
        except KeyboardInterrupt:
            exit_on_next_signal()
            print("wordgen: interrupted; files already saved are intact", file=sys.stderr)
            return 130
        except BrokenPipeError:  # `wordgen generate ... | head`
            return 0
        except Exception as err:  # an OSError nothing wrapped, or a crash: a runtime failure
            if os.environ.get(DEBUG_VARIABLE) == "1":
                raise
            _error_line(failure_line(err))
            return 1
    return 0

