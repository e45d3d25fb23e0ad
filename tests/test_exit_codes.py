"""Exit statuses as shell tools read them: 2 bad input, 1 a runtime failure, one line each, no traceback.

The mapping lives on the error kinds (wordgen.errors); these tests hold the CLI and the tasks to
it, and check that a device this machine lacks is refused before any work is done.
"""

import importlib
import inspect
import subprocess
import sys

import pytest
import torch
from helpers import one_line_error, run_cli, tiny_flags

from wordgen import cli, errors

KINDS = [kind for _, kind in inspect.getmembers(errors, inspect.isclass) if issubclass(kind, errors.WordgenError)]
RUNTIME = {errors.StorageError, errors.DistributedError}


def test_every_error_kind_has_its_status_and_the_docstring_names_it():
    assert len(KINDS) >= 8
    for kind in KINDS:
        assert kind.exit_code == (1 if kind in RUNTIME else 2), kind
        assert kind is errors.WordgenError or kind.__name__ in errors.__doc__, kind


def _fail_with(monkeypatch, error: BaseException) -> None:
    def command(args):
        raise error
    monkeypatch.setitem(cli.COMMANDS, "corpora", command)


@pytest.mark.parametrize("error, status, line", [
    (errors.CorpusError("no book here"), 2, "wordgen: error: no book here"),
    (errors.StorageError("cannot save x (No space left on device)"), 1,
     "wordgen: error: cannot save x (No space left on device)"),
    (PermissionError(13, "Permission denied", "/some/report.md"), 1, "wordgen: error: Permission denied: /some/report.md"),
    (ZeroDivisionError("division by zero"), 1,
     "wordgen: error: internal error: ZeroDivisionError: division by zero -- a bug in wordgen; please report it to "
     "its authors with the traceback that WORDGEN_DEBUG=1 shows"),
])
def test_each_kind_of_failure_is_one_line_with_its_status(error, status, line, monkeypatch, capsys):
    monkeypatch.delenv("WORDGEN_DEBUG", raising=False)
    _fail_with(monkeypatch, error)
    code, out, err = run_cli(capsys, "corpora")
    assert code == status and out == ""
    assert one_line_error(err) == line


def test_wordgen_debug_shows_a_crash_as_python_does(monkeypatch):
    monkeypatch.setenv("WORDGEN_DEBUG", "1")
    _fail_with(monkeypatch, ZeroDivisionError("division by zero"))
    with pytest.raises(ZeroDivisionError):
        cli.main(["corpora"])


def test_the_console_script_prints_no_traceback_for_a_crash(tmp_path):
    # A tokenizer plugin that crashes when it is imported: a real, unexpected exception in a fresh process.
    (tmp_path / "broken_plugin.py").write_text("raise RuntimeError('the plugin is broken')\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "wordgen", "--plugin", "broken_plugin", "corpora"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert one_line_error(proc.stderr).startswith("wordgen: error: internal error: RuntimeError: the plugin is broken")


# ---------------------------------------------------------------- a device this machine lacks

MISSING = [name for name, there in (("mps", torch.backends.mps.is_available()), ("cuda", torch.cuda.is_available()))
           if not there]


@pytest.mark.skipif(not MISSING, reason="this machine has both MPS and CUDA")
def test_a_missing_device_is_refused_before_any_work(shared_trained, book, tmp_path, capsys, monkeypatch):
    import wordgen.training.prepare as prepare
    from wordgen.training.checkpoint import Bundle

    def no_work(*args, **kwargs):  # reached, it makes the command a crash (status 1), not a refusal
        raise AssertionError("work started before the device was checked")

    monkeypatch.setattr(prepare, "load_corpus", no_work)  # training's first work: reading the book
    monkeypatch.setattr(Bundle, "load", no_work)  # generate's and evaluate's
    ckpt = shared_trained.bundle.config.out
    device = MISSING[0]
    for argv in (["train", "--corpus", book, "--out", tmp_path / "train", "--max-steps", "2", *tiny_flags()],
                 ["lab", "--corpus", book, "--out", tmp_path / "lab", "--max-steps", "2", *tiny_flags()],
                 ["generate", ckpt, "--max-tokens", "3"],
                 ["evaluate", ckpt, "--text-file", book]):
        code, out, err = run_cli(capsys, *argv, "--device", device)
        assert code == 2 and out == "", (argv, err)
        assert f"--device {device} asks for" in one_line_error(err), (argv, err)
    assert not (tmp_path / "train").exists() and not (tmp_path / "lab").exists()
    task = importlib.import_module("wordgen.tasks.word_level_book")
    assert task.main(["--book", str(book), "--out", str(tmp_path / "task"), "--device", device]) == 2
    assert f"--device {device} asks for" in one_line_error(capsys.readouterr().err, starts=f"{task.PROG}: error:")
    assert not (tmp_path / "task").exists()


def test_an_unknown_device_name_is_bad_input(capsys, shared_trained):
    code, _, err = run_cli(capsys, "generate", shared_trained.bundle.config.out, "--device", "tpu")
    assert code == 2 and "--device tpu is not a device torch knows" in one_line_error(err)
