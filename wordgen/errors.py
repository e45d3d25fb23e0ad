"""Errors that wordgen raises for bad input.

Every problem a user can cause (a missing file, an unknown tokenizer name, a
temperature below zero, a damaged checkpoint...) raises a subclass of
`WordgenError` with a one-line message written for a student. A message names
a setting as its field (`TrainConfig.epochs`, `SampleConfig.top_k`) or keyword
(`train(overwrite=True)`), never as a command-line flag: the CLI turns these into
`wordgen: error: <message>` with the flags named instead (wordgen.options) and exit
status 2; library users can catch them like any other exception. Programming
errors inside wordgen are deliberately *not* wrapped, so they still show a traceback.
"""


class WordgenError(Exception):
    """Bad input from the user: the message alone should explain what to fix."""


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


class DistributedError(WordgenError):
    """A process of a multi-process run died, hung past the timeout, or could not be started."""
