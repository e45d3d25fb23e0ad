"""The documentation: the site builds strictly, every command line it shows still parses, the README stays short.

* `mkdocs build --strict` into a temporary folder: a broken link or anchor, a page missing from
  the nav or a generated page that fails fails the test (skipped only where mkdocs is not installed);
* every `wordgen ...` line in a code block of README.md and docs/guides/ (and `torchrun ... -m
  wordgen ...`, `python -m tasks.NAME ...` where a task is shown) is parsed with the parser the
  command line itself uses, so a renamed or removed option fails here, not for a student;
* the generated command-line page lists every option, and every results file has a page;
* README.md is at most 260 lines and its relative links point at files that exist.

Not here: what the commands do (test_cli.py, test_tasks.py), the benchmarks themselves.
"""

from __future__ import annotations

import importlib
import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from wordgen.errors import UsageError
from wordgen.options import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SHOWN = [README, *sorted((ROOT / "docs" / "guides").glob("*.md"))]
SHELL_BLOCKS = {"", "bash", "sh", "shell", "console"}
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)


def command_lines(text: str) -> list[str]:
    """The lines of the shell code blocks in `text`, continuation lines joined, prompts dropped."""
    lines = []
    for lang, body in FENCE.findall(text):
        if lang not in SHELL_BLOCKS:
            continue
        for line in re.sub(r"\\\n\s*", " ", body).splitlines():
            line = line.strip().removeprefix("$ ")
            if line and not line.startswith("#"):
                lines.append(line)
    return lines


def program_argv(line: str) -> tuple[str, list[str]] | None:
    """("wordgen", argv) or ("tasks.NAME", argv) for a line that runs one of them, else None."""
    words = shlex.split(line, comments=True)
    if words and words[0] == "wordgen":
        return "wordgen", words[1:]
    if "-m" in words[:-1]:
        module = words[words.index("-m") + 1]
        rest = words[words.index("-m") + 2:]
        if module == "wordgen":
            return "wordgen", rest
        if re.fullmatch(r"(wordgen\.)?tasks\.\w+", module):
            return module, rest
    return None


def shown_commands() -> list[tuple[str, str]]:
    found = []
    for path in SHOWN:
        for line in command_lines(path.read_text(encoding="utf-8")):
            if program_argv(line):
                found.append((path.relative_to(ROOT).as_posix(), line))
    return found


def parse(program: str, argv: list[str]):
    """Parse argv as the program itself would; raises UsageError or SystemExit on what it refuses."""
    if program == "wordgen":
        return build_parser().parse_args(argv)
    return importlib.import_module(program).build_parser().parse_args(argv)


COMMANDS = shown_commands()


@pytest.mark.parametrize(("where", "line"), COMMANDS, ids=[f"{w}: {line[:60]}" for w, line in COMMANDS])
def test_every_command_shown_parses(where, line):
    program, argv = program_argv(line)
    try:
        parse(program, argv)
    except SystemExit as exit_info:  # --help prints and exits 0; anything else is a refusal
        assert exit_info.code == 0, f"{where} shows a command the parser refuses: {line}"
    except UsageError as refused:
        pytest.fail(f"{where} shows a command the parser refuses: {line}\n  {refused}")


def test_the_commands_are_found_and_a_wrong_one_is_refused():
    # Enough commands are found in every place they are shown, and parse() refuses what the CLI refuses.
    places = {where for where, _ in COMMANDS}
    assert "README.md" in places and "docs/guides/any-book.md" in places and len(COMMANDS) >= 30
    with pytest.raises(UsageError, match="--no-such-option"):
        parse("wordgen", ["train", "--no-such-option", "1"])
    assert program_argv("torchrun --standalone --nproc-per-node 2 -m wordgen train --out x") == \
        ("wordgen", ["train", "--out", "x"])


def test_the_readme_own_book_command_is_word_level_and_names_its_folder():
    lines = [line for line in command_lines(README.read_text(encoding="utf-8")) if "--corpus book.txt" in line]
    assert lines, "README.md shows no command that trains on book.txt"
    args = parse(*program_argv(lines[0]))
    assert args.command == "lab" and args.corpus == "book.txt" and args.out
    assert args.tokenizer.startswith("word")


def test_readme_is_short_and_its_links_exist():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 260
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target) or target.startswith("#"):
            continue
        assert (ROOT / target.split("#")[0]).exists(), f"README.md links to a missing file: {target}"


def _hook():
    spec = importlib.util.spec_from_file_location("docs_generate", ROOT / "docs" / "hooks" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_command_line_page_lists_every_command_and_option():
    hook = _hook()
    page = hook.cli_page()
    parser = build_parser()
    for name, sub in hook.commands(parser).items():
        assert f"## `wordgen {name}`" in page
        for action in sub._actions:
            for flag in set(action.option_strings) - {"-h", "--help"}:  # --help is left off the page
                assert f"`{flag}" in page or f", {flag}" in page, f"wordgen {name} {flag} missing from the page"


def test_every_results_file_has_a_page_that_names_it():
    from benchmarks.pages import RESULTS, pages

    made = pages()
    files = [p.name for p in RESULTS.iterdir() if p.suffix in (".json", ".jsonl")]
    assert files and "not rendered" not in made["results/index.md"]
    for name in files:
        assert any(f"## `{name}`" in text for page, text in made.items() if page != "results/index.md"), name


@pytest.mark.skipif(importlib.util.find_spec("mkdocs") is None,
                    reason="mkdocs is not installed (pip install -e '.[docs]')")
def test_the_site_builds_strictly(tmp_path):
    site = tmp_path / "site"
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet", "-f",
                           str(ROOT / "mkdocs.yml"), "-d", str(site)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    cli = (site / "reference" / "cli" / "index.html").read_text(encoding="utf-8")
    assert "wordgen train" in cli and "--time-budget" in cli
    api = (site / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    assert "train_from_texts" in api  # a docstring's content, not only the names
    assert "quality-" in (site / "results" / "quality" / "index.html").read_text(encoding="utf-8")
