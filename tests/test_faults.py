"""What a run survives: Ctrl-C, SIGTERM, kill -9 at any moment, a full or read-only disk, a second writer.

Most tests here start real `wordgen train` processes (`python -m wordgen.cli`) and
signal or kill them from outside, then check the folder the way a user would find
it: the trainer state loads, the best weights load, metrics.jsonl parses, nothing
half-written sits under a final name, `--resume` works. The kill -9 loop widens the
window of every save with the test-only hook WORDGEN_TEST_SAVE_DELAY (wordgen/_io.py)
so that kills land inside saves often enough to count; WORDGEN_KILLS=N runs more.
"""

import errno
import os
import random
import re
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
from helpers import run_cli, tiny_flags

from wordgen import _io
from wordgen.training import checkpoint as ckpt
from wordgen.training.checkpoint import Bundle
from wordgen.training.loop import train  # noqa: F401  (loads the module that the tests patch)

ROOT = Path(__file__).resolve().parents[1]
train_module = sys.modules["wordgen.training.loop"]
TINY = tiny_flags(precision="fp32", quiet=True)
FOREVER = ["--max-steps", "1000000"]


def start(*argv, delay: str | None = None) -> subprocess.Popen:
    """`wordgen ARGV` as its own process (one torch thread: the machine is shared)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("WORDGEN_TEST_SAVE_DELAY", None)
    if delay:
        env["WORDGEN_TEST_SAVE_DELAY"] = delay
    return subprocess.Popen([sys.executable, "-m", "wordgen.cli", *map(str, argv)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def wait_until(condition, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if proc.poll() is not None:
            raise AssertionError(f"wordgen exited early ({proc.returncode}): {proc.stderr.read()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("timed out waiting for the run")
        time.sleep(0.02)


def state_step(out: Path) -> int | None:
    try:
        return ckpt.load_trainer_state(out)["step"]
    except Exception:
        return None


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def temporaries(out: Path) -> list[str]:
    return sorted(p.name for p in out.glob(".*.tmp"))


# ---------------------------------------------------------------- signals


def test_ctrl_c_and_sigterm_stop_the_cli_with_a_resumable_checkpoint(book, tmp_path, capsys):
    out = tmp_path / "run"
    proc = start("train", "--corpus", book, "--out", out, "--eval-interval", "5", *FOREVER, *TINY)
    wait_until(lambda: state_step(out), proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    line = one_line(err)
    match = re.fullmatch(r"wordgen: interrupted at step (\d+); resume with: wordgen train --resume (\S+)", line)
    assert match and match[2] == str(out), line
    stopped = int(match[1])
    assert state_step(out) == stopped  # the state of the step it stopped at, not of the last validation
    assert temporaries(out) == []

    proc = start("train", "--resume", out, *FOREVER, "--quiet")
    wait_until(lambda: (state_step(out) or 0) > stopped, proc)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    stopped = int(re.fullmatch(r"wordgen: interrupted at step (\d+); resume .*", one_line(err))[1])
    assert state_step(out) == stopped

    code, stdout, err = run_cli(capsys, "train", "--resume", out, "--max-steps", stopped + 3, "--quiet")
    assert code == 0, err
    assert f"resumed at step {stopped}, trained 3 more to step {stopped + 3}" in stdout
    steps = [row["step"] for row in ckpt.read_metrics(out)]
    assert steps == sorted(set(steps)) and steps[-1] == stopped + 3


def test_a_second_ctrl_c_exits_at_once_inside_the_save(book, tmp_path):
    # Every save of trainer_state.pt is held open 2 s; the second SIGINT arrives while the
    # stop's own save is open. The process must end without waiting for it, and leave the
    # previous state whole.
    # Validations 50 steps apart: the first SIGINT lands among plain training steps, so the
    # stop makes a save of its own (a stop at a validation step needs none).
    out = tmp_path / "run"
    proc = start("train", "--corpus", book, "--out", out, "--eval-interval", "50", *FOREVER, *TINY,
                 delay="2:trainer_state.pt")
    wait_until(lambda: state_step(out) == 50, proc)
    time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    wait_until(lambda: temporaries(out), proc)  # the stop's save is open
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    line = proc.stderr.readline()
    seconds = time.monotonic() - sent  # to the message; the interpreter's own exit comes after
    _, err = proc.communicate(timeout=120)
    err = line + err
    assert proc.returncode == 130, err
    assert seconds < 1.0, seconds  # it did not sit out the 2 s save
    assert re.fullmatch(rf"wordgen: stopped at once at step \d+; the checkpoint of step 50 is whole; "
                        rf"resume with: wordgen train --resume {re.escape(str(out))}", one_line(err)), err
    assert state_step(out) == 50 and temporaries(out) == []
    Bundle.load(out, device="cpu")


def _signal_after_step(monkeypatch, step: int, signum: int) -> None:
    real = train_module._step

    def step_then_signal(run, *args):
        loss = real(run, *args)
        if run.cursor.step == step:
            signal.raise_signal(signum)
        return loss

    monkeypatch.setattr(train_module, "_step", step_then_signal)


def test_compare_stops_gracefully_on_sigterm(book, tmp_path, capsys, monkeypatch):
    _signal_after_step(monkeypatch, 3, signal.SIGTERM)
    out = tmp_path / "cmp"
    code, _, err = run_cli(capsys, "compare", "--corpus", book, "--tokenizers", "char,word", "--out", out,
                       "--max-steps", "8", "--eval-interval", "4", "--sample-chars", "0", *TINY)
    assert code == 143, err
    run_folder = out / "runs" / "char"
    assert one_line(err) == f"wordgen: interrupted at step 3; resume with: wordgen train --resume {run_folder}"
    monkeypatch.undo()
    code, stdout, err = run_cli(capsys, "train", "--resume", run_folder, "--quiet")
    assert code == 0 and "resumed at step 3, trained 5 more to step 8" in stdout, err


def test_the_lab_stops_gracefully_on_ctrl_c(book, tmp_path, capsys, monkeypatch):
    _signal_after_step(monkeypatch, 2, signal.SIGINT)
    out = tmp_path / "lab"
    code, stdout, err = run_cli(capsys, "lab", "--corpus", book, "--out", out, "--max-steps", "6", *tiny_flags(precision="fp32"))
    assert code == 130 and "--- greedy ---" not in stdout, err  # no sampling after a stop
    # The lab always shows its progress bar (tqdm closes it with a newline); the message follows it.
    assert err.splitlines()[-1] == f"wordgen: interrupted at step 2; resume with: wordgen train --resume {out}"
    assert "Traceback" not in err and state_step(out) == 2


def test_a_task_that_trains_stops_gracefully_on_ctrl_c(book, tmp_path, capsys, monkeypatch):
    import importlib

    _signal_after_step(monkeypatch, 4, signal.SIGINT)
    out = tmp_path / "task"
    code = importlib.import_module("wordgen.tasks.word_level_book").main(
        ["--book", str(book), "--out", str(out), "--max-steps", "20", *tiny_flags(quiet=True)])
    err = capsys.readouterr().err
    assert code == 130, err
    assert one_line(err) == (f"python -m wordgen.tasks.word_level_book: interrupted at step 4; "
                             f"resume with: wordgen train --resume {out / 'model'}")
    assert state_step(out / "model") == 4


# ---------------------------------------------------------------- two writers


def test_a_second_writer_is_refused_and_a_killed_one_leaves_no_lock(book, tmp_path, capsys):
    out = tmp_path / "run"
    first = start("train", "--corpus", book, "--out", out, "--eval-interval", "5", *FOREVER, *TINY)
    try:
        wait_until(lambda: state_step(out), first)
        second = subprocess.run([sys.executable, "-m", "wordgen.cli", "train", "--corpus", str(book), "--out", str(out),
                                 "--overwrite", "--max-steps", "3", *TINY], capture_output=True, text=True,
                                env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)
        assert second.returncode == 1, second.stderr
        assert one_line(second.stderr) == (f"wordgen: error: {out} is being written by another wordgen run "
                                           f"(process {first.pid}); wait for it to finish or choose another folder")
        code, _, err = run_cli(capsys, "train", "--resume", out, "--max-steps", "3")  # a resume is a writer too
        assert code == 1 and "being written by another wordgen run" in one_line(err)
        assert first.poll() is None  # the first run was not disturbed
    finally:
        first.kill()  # SIGKILL: no clean-up code runs; the kernel drops the lock with the process
        first.wait()
    stopped = state_step(out)
    code, stdout, err = run_cli(capsys, "train", "--resume", out, "--max-steps", stopped + 2)
    assert code == 0, err


# ---------------------------------------------------------------- kill -9


def _check_after_kill(out: Path) -> tuple[int | None, bool]:
    """Everything under a final name loads; returns (state step, whether a torn metrics line was skipped)."""
    if not (out / ckpt.CONFIG_FILE).exists():
        return None, False
    ckpt.load_config(out)
    step = ckpt.load_trainer_state(out)["step"] if (out / ckpt.STATE_FILE).exists() else None
    if (out / ckpt.WEIGHTS_FILE).exists():
        Bundle.load(out, device="cpu")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = ckpt.read_metrics(out)
    assert all(isinstance(r["step"], int) for r in rows)
    return step, bool(caught)


@pytest.mark.slow
def test_kill_9_at_random_moments_loses_no_checkpoint(book, tmp_path, capsys):
    kills = int(os.environ.get("WORDGEN_KILLS", "8"))
    rng = random.Random(12)
    out = tmp_path / "run"
    tally = dict(tried=0, at_any_moment=0, inside_a_save=0, lost=0, torn_metrics=0)
    last = None  # step of the last trainer state seen whole
    for _ in range(kills):
        began, left_before = time.time(), set(temporaries(out)) if out.exists() else set()
        if last is None:
            proc = start("train", "--corpus", book, "--out", out, "--overwrite", "--eval-interval", "2", *FOREVER,
                         *TINY, delay="0.05")
        else:
            proc = start("train", "--resume", out, *FOREVER, "--quiet", delay="0.05")
        if rng.random() < 0.25:  # any moment: imports, corpus, tokenizer, first files
            time.sleep(rng.uniform(0.0, 4.0))
            tally["at_any_moment"] += 1
        else:  # once a save of this process has gone through: inside training and its saves
            state = out / ckpt.STATE_FILE
            wait_until(lambda: state.exists() and state.stat().st_mtime > began, proc)
            time.sleep(rng.uniform(0.0, 0.5))
        proc.kill()
        proc.communicate()
        tally["tried"] += 1
        # Only a save cut short leaves its temporary file (a new one: a process killed before it
        # took the lock has not yet cleared those of the kill before).
        tally["inside_a_save"] += bool(set(temporaries(out)) - left_before)
        step, torn = _check_after_kill(out)
        tally["torn_metrics"] += torn
        if last is not None and (step is None or step < last):
            tally["lost"] += 1
        last = step if step is not None else last
    with capsys.disabled():  # the counts the README quotes; pytest -s shows them
        print(f"\nkill -9 loop: {tally}")
    assert tally["lost"] == 0, tally
    assert tally["inside_a_save"] > 0, tally  # the hook did widen the window: the test exercised what it claims
    code, stdout, err = run_cli(capsys, "train", "--resume", out, "--max-steps", last + 2, "--quiet")
    assert code == 0, err
    assert temporaries(out) == []  # the resumed run cleared what the killed ones left
    steps = [row["step"] for row in ckpt.read_metrics(out)]
    assert steps == sorted(set(steps)) and steps[-1] == last + 2


def test_a_torn_metrics_line_is_skipped_with_a_warning_and_repaired_on_resume(book, tmp_path, capsys):
    out = tmp_path / "run"
    assert run_cli(capsys, "train", "--corpus", book, "--out", out, "--max-steps", "4", "--eval-interval", "2", *TINY)[0] == 0
    with open(out / ckpt.METRICS_FILE, "ab") as f:
        f.write(b'{"step": 6, "epoch": 0.1, "tok')  # what a crash in the middle of the write leaves
    with pytest.warns(UserWarning, match="line 3 is torn or damaged"):
        assert [row["step"] for row in ckpt.read_metrics(out)] == [2, 4]
    code, _, err = run_cli(capsys, "train", "--resume", out, "--max-steps", "6", "--quiet")
    assert code == 0 and "line 3 is torn" in err  # the CLI shows the warning on one line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert [row["step"] for row in ckpt.read_metrics(out)] == [2, 4, 6]


# ---------------------------------------------------------------- full and read-only disks


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES])
def test_a_failed_write_keeps_the_previous_checkpoint_and_names_the_folder(code, book, tmp_path, capsys, monkeypatch):
    out = tmp_path / "run"
    assert run_cli(capsys, "train", "--corpus", book, "--out", out, "--max-steps", "4", "--eval-interval", "2", *TINY)[0] == 0
    before = {name: (out / name).read_bytes() for name in ckpt.FILES}
    real = _io.atomic_write

    def half_then_fail(path, write):
        def write_half(tmp):
            write(tmp)
            with open(tmp, "r+b") as f:
                f.truncate(f.seek(0, os.SEEK_END) // 2)
            raise OSError(code, os.strerror(code))
        return real(path, write_half)

    monkeypatch.setattr(_io, "atomic_write", half_then_fail)  # every save, as checkpoint.py calls it
    result, _, err = run_cli(capsys, "train", "--resume", out, "--max-steps", "8", "--quiet")
    assert result == 1
    assert re.fullmatch(rf"wordgen: error: cannot save \S+ in {re.escape(str(out))} \({os.strerror(code)}\); "
                        r"the files already there are unchanged", one_line(err)), err
    assert {name: (out / name).read_bytes() for name in ckpt.FILES} == before
    assert temporaries(out) == []
    monkeypatch.undo()
    assert run_cli(capsys, "train", "--resume", out, "--max-steps", "6", "--quiet")[0] == 0


@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MB tmpfs mounted for the test (needs root with CAP_SYS_ADMIN, as CI runs)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); "
                    "test_a_failed_write_keeps_the_previous_checkpoint_and_names_the_folder covers the same path")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_really_full_then_read_only_disk(small_disk, book, capsys):
    out = small_disk / "run"
    assert run_cli(capsys, "train", "--corpus", book, "--out", out, "--max-steps", "4", "--eval-interval", "2", *TINY)[0] == 0
    before = {name: (out / name).read_bytes() for name in ckpt.FILES}
    with open(small_disk / "filler", "wb") as filler:  # fill the disk to the last block
        try:
            while True:
                filler.write(b"\0" * 65536)
                filler.flush()
        except OSError as err:
            assert err.errno == errno.ENOSPC
    code, _, err = run_cli(capsys, "train", "--resume", out, "--max-steps", "8", "--quiet")
    assert code == 1
    assert re.fullmatch(rf"wordgen: error: cannot save \S+ in {re.escape(str(out))} \(No space left on device\); "
                        r"the files already there are unchanged", one_line(err)), err
    assert {name: (out / name).read_bytes() for name in ckpt.FILES} == before and temporaries(out) == []

    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    code, _, err = run_cli(capsys, "train", "--resume", out, "--max-steps", "8", "--quiet")
    assert code == 1 and one_line(err) == f"wordgen: error: cannot lock {out} (Read-only file system)", err
    assert {name: (out / name).read_bytes() for name in ckpt.FILES} == before
    code, text, err = run_cli(capsys, "generate", out, "--max-tokens", "5")  # reading still works
    assert code == 0, err
