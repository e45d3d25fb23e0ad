"""Errors that wordgen raises, and the exit status each kind means on the command line.

Every problem a user can cause (a missing file, an unknown tokenizer name, a
temperature below zero, a damaged checkpoint...) raises a subclass of
`WordgenError` with a one-line message written for a student. A message names
a setting as its field (`TrainConfig.epochs`, `SampleConfig.top_k`) or keyword
(`train(overwrite=True)`), never as a command-line flag: the CLI turns these into
`wordgen: error: <message>` with the flags named instead (wordgen.options) and exits
with the kind's `exit_code`; library users can catch them like any other exception.

Exit statuses, as shell tools use them (the kind's `exit_code`; wordgen.cli applies them):

    0    done
    2    bad input: the command must change before it can work. UsageError (the
         command line), ConfigError (a setting out of range, a device this machine
         lacks, a port in use), CorpusError (a corpus missing, unreadable or empty),
         TokenizerError, CheckpointError (a folder missing, incomplete, damaged, or
         already holding a checkpoint)
    1    a runtime failure: the same command can work once the machine lets it.
         StorageError (a file could not be written: the disk is full or read-only,
         permission was refused, another wordgen run holds the folder), DistributedError
         (a process of a multi-process run died, hung or could not start); also any
         OSError that reaches the CLI unwrapped, and a crash -- an exception wordgen
         did not expect, shown as `wordgen: error: internal error: ...` on one line
         (WORDGEN_DEBUG=1 shows its traceback instead)
    130  stopped by SIGINT (Ctrl-C); 143 by SIGTERM (wordgen.training.stopping)

Programming errors inside wordgen are deliberately *not* wrapped in these kinds:
library callers see them as they are, and the CLI reports them as internal errors.

Not here: printing and exiting (wordgen.cli), naming flags (wordgen.options).
"""

from wordgen._io import first_line


class WordgenError(Exception):
    """Bad input from the user: the message alone should explain what to fix."""

    exit_code = 2


class CorpusError(WordgenError):
    """A corpus could not be found, read, or split."""


class TokenizerError(WordgenError):
    """A tokenizer spec, file or registration is invalid."""


class CheckpointError(WordgenError):
    """A checkpoint folder is missing, incomplete, damaged or not wordgen's."""


class ConfigError(WordgenError):
    """A setting is out of range (SampleConfig.temperature < 0, SampleConfig.top_p outside (0, 1], ...)."""


class UsageError(WordgenError):
    """A command line the argument parser cannot make sense of (an unknown option, a bad number)."""


class StorageError(WordgenError):
    """A file or folder could not be written (disk full or read-only, no permission, in use by another run)."""

    exit_code = 1


class DistributedError(WordgenError):
    """A process of a multi-process run died, hung past the timeout, or could not be started."""

    exit_code = 1


DEBUG_VARIABLE = "WORDGEN_DEBUG"  # =1: an unexpected exception shows its traceback instead of one line


def failure_line(err: Exception) -> str:
    """The one-line message (after `PROG: error: `) for an exception that is no WordgenError: exit status 1.

    An OSError the library did not wrap is the system refusing something (a write, a
    read): said as the system says it, with the file. Anything else is a bug in wordgen.
    """
    if isinstance(err, OSError):
        where = f": {err.filename}" if err.filename is not None else ""
        return f"{err.strerror or first_line(err)}{where}"
    return (f"internal error: {type(err).__name__}: {first_line(err)} -- a bug in wordgen; please report it to "
            f"its authors with the traceback that {DEBUG_VARIABLE}=1 shows")

