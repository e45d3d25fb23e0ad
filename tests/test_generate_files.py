"""`wordgen generate --output FILE` and `--prompt-file FILE`: the samples go to a file whole, the prompt comes from one.

The file holds exactly what the same command prints without --output; stdout then says only
where it went. Bad file arguments are refused in one line with status 2 before the model loads;
a write the disk refuses is a runtime failure, status 1, and leaves the previous file as it was.
"""

import errno
import os

from helpers import one_line_error, run_cli

from wordgen import _io


def _checkpoint(shared_trained):
    return shared_trained.bundle.config.out


def test_output_holds_what_stdout_would_show_and_stdout_only_says_where(shared_trained, tmp_path, capsys):
    ckpt, target = _checkpoint(shared_trained), tmp_path / "new" / "samples.txt"
    argv = ["generate", ckpt, "--prompt", "ROMEO:", "--max-tokens", "12", "--num-samples", "2", "--seed", "3"]
    code, printed, err = run_cli(capsys, *argv)
    assert code == 0, err
    code, out, err = run_cli(capsys, *argv, "--output", target)
    assert code == 0, err
    assert out == f"wrote 2 samples to {target}\n"
    assert target.read_text(encoding="utf-8") == printed
    assert printed.startswith("--- sample 1 ---\nROMEO:") and "--- sample 2 ---\nROMEO:" in printed
    assert sorted(p.name for p in target.parent.iterdir()) == ["samples.txt"]  # no temporary file left


def test_prompt_file_is_the_prompt_exactly(shared_trained, tmp_path, capsys):
    ckpt = _checkpoint(shared_trained)
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("ROMEO:\nBut, soft!\n", encoding="utf-8")
    code, from_file, err = run_cli(capsys, "generate", ckpt, "--prompt-file", prompt, "--max-tokens", "8")
    assert code == 0, err
    code, from_flag, err = run_cli(capsys, "generate", ckpt, "--prompt", "ROMEO:\nBut, soft!\n", "--max-tokens", "8")
    assert code == 0, err
    assert from_file == from_flag and from_file.startswith("ROMEO:\nBut, soft!\n")


def test_bad_file_arguments_are_one_line_and_status_2(shared_trained, tmp_path, capsys):
    ckpt = _checkpoint(shared_trained)
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9".encode("latin-1"))
    cases = [
        (["--prompt", "a", "--prompt-file", latin1], "argument --prompt-file: not allowed with argument --prompt"),
        (["--prompt-file", tmp_path / "missing.txt"], "does not exist"),
        (["--prompt-file", tmp_path], "is a folder"),
        (["--prompt-file", latin1], "is not UTF-8 text"),
        (["--output", tmp_path], "is a folder"),
    ]
    for extra, message in cases:
        code, out, err = run_cli(capsys, "generate", ckpt, "--max-tokens", "3", *extra)
        assert code == 2 and out == "", (extra, err)
        assert message in one_line_error(err), (extra, err)


def test_a_full_disk_is_status_1_and_keeps_the_previous_file(shared_trained, tmp_path, capsys, monkeypatch):
    target = tmp_path / "samples.txt"
    target.write_text("the previous samples\n", encoding="utf-8")
    real = _io.atomic_write

    def fill_the_disk(path, write):
        def write_then_fail(tmp):
            write(tmp)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path, write_then_fail)

    monkeypatch.setattr(_io, "atomic_write", fill_the_disk)
    code, out, err = run_cli(capsys, "generate", _checkpoint(shared_trained), "--max-tokens", "3", "--output", target)
    assert code == 1 and out == ""
    assert one_line_error(err) == f"wordgen: error: cannot write {target} (No space left on device)"
    assert target.read_text(encoding="utf-8") == "the previous samples\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.txt"]
