"""MkDocs hook: the site's generated pages, made from the code and the results when the site is built.

* reference/cli.md: every `wordgen` command and option, read from `wordgen.options.build_parser()`,
  the parser the command line itself uses (so the page cannot drift from `--help`);
* reference/api.md: one mkdocstrings block per public name of `wordgen.__all__`, pointed at the
  module that defines it (the package imports lazily, so the names are looked up where they live);
* results/*.md: the tables of benchmarks/results/ (`benchmarks.pages`).

The pages exist only in the build (MkDocs' generated files); nothing is written into docs/.
Not here: the hand-written pages (docs/), the results tables themselves (benchmarks/pages.py).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]  # the checkout whose code the site documents


def _checkout_first() -> None:
    if str(ROOT) not in sys.path[:1]:
        sys.path.insert(0, str(ROOT))


def _escape(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;")


def _option_row(formatter: argparse.HelpFormatter, action: argparse.Action) -> str:
    if action.option_strings:
        names = ", ".join(action.option_strings)
        if action.nargs != 0:
            names += " " + (action.metavar or action.dest.upper())
    else:
        names = action.metavar or action.dest
    helped = formatter._expand_help(action) if action.help else ""  # argparse's own %-expansion
    return f"| `{names}` | {_escape(helped)} |"


def _command_section(parser: argparse.ArgumentParser) -> list[str]:
    formatter = parser._get_formatter()
    usage = " ".join(parser.format_usage().split())
    lines = [f"## `{parser.prog}`", ""]
    if parser.description:
        lines += [_escape(parser.description), ""]
    lines += ["```text", usage.removeprefix("usage: "), "```", ""]
    for group in parser._action_groups:
        actions = [a for a in group._group_actions
                   if not isinstance(a, (argparse._HelpAction, argparse._SubParsersAction))]
        if not actions:
            continue
        title = {"positional arguments": "arguments", "options": "options"}.get(group.title, group.title)
        lines += [f"**{title}**", ""]
        if group.description:
            lines += [_escape(group.description), ""]
        lines += ["| option | what it does |", "| :-- | :-- |", *(_option_row(formatter, a) for a in actions), ""]
    return lines


def commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The subcommands of `parser`, by name, in the order --help lists them."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def cli_page() -> str:
    _checkout_first()
    from wordgen.options import build_parser

    parser = build_parser()
    lines = ["# The command line", "",
             "Generated from `wordgen.options.build_parser()` when the site is built: the same option tables "
             "`wordgen` parses and `--help` prints. A default of *size rule* is chosen from the text, the "
             "vocabulary and the budget when training starts ([your own book](../guides/any-book.md#the-size-rule)).",
             ""]
    lines += _command_section(parser)
    for sub in commands(parser).values():
        lines += _command_section(sub)
    return "\n".join(lines) + "\n"


def api_page() -> str:
    _checkout_first()
    import wordgen

    lines = ["# The Python API", "",
             "Generated from the docstrings when the site is built: every name of `wordgen.__all__`, shown "
             "from the module that defines it (`import wordgen` loads each on first use). A first tour: "
             "[from Python](../guides/python.md).", ""]
    for name in wordgen.__all__:
        module = wordgen._EXPORTS[name]
        lines += [f"::: {module}.{name}", "    options:", "      show_root_heading: true",
                  "      show_root_full_path: false", "      heading_level: 2", ""]
    return "\n".join(lines)


def generated_pages() -> dict[str, str]:
    _checkout_first()
    from benchmarks.pages import pages

    return {"reference/cli.md": cli_page(), "reference/api.md": api_page(), **pages()}


def on_files(files, config):
    from mkdocs.structure.files import File

    for path, text in generated_pages().items():
        files.append(File.generated(config, path, content=text))
    return files
