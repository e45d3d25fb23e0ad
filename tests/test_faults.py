"""What a run survives: Ctrl-C, SIGTERM, kill -9 at any moment, a full or read-only disk, a second writer.

Most tests here start real `wordgen train` processes (`python -m wordgen.cli`) and
signal or kill them from outside, then check the folder the way a user would find
it: the trainer state loads, the best weights load, metrics.jsonl parses, nothing
half-written sits under a final name, `--resume` works. Every signal and kill lands
where the test says: the child is held at a named point (after step N, inside the save
of a file) by the library's test-only hook (wordgen._io.hold_for_tests, helpers.Holds) until
the test has sent it; no test waits on the clock for the child's state.
WORDGEN_KILLS=N adds N kills to the kill -9 loop, at seeded random steps and saves.
"""

import errno
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import warnings
from pathlib import Path

import pytest
from helpers import Holds, run_cli, tiny_flags

from wordgen import _io
from wordgen.training import checkpoint as ckpt
from wordgen.training.checkpoint import Bundle
from wordgen.training.loop import train  # noqa: F401  (loads the module that the tests patch)

ROOT = Path(__file__).resolve().parents[1]
train_module = sys.modules["wordgen.training.loop"]
TINY = tiny_flags(precision="fp32", quiet=True)
FOREVER = ["--max-steps", "1000000"]


def start(*argv, holds: Holds | None = None) -> subprocess.Popen:
    """`wordgen ARGV` as its own process (one torch thread: the machine is shared), held at `holds`' points."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("WORDGEN_TEST_HOLD", None)
    env.update(holds.env() if holds else {})
    return subprocess.Popen([sys.executable, "-m", "wordgen.cli", *map(str, argv)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def finish(proc: subprocess.Popen) -> str:
    """Its stderr once it has exited; a child still running after 120 s (a tiny run that has been let
    go needs a few) is killed and fails the test."""
    try:
        return proc.communicate(timeout=120)[1]
    except subprocess.TimeoutExpired:
        proc.kill()
        raise AssertionError(f"the child did not exit: {proc.communicate(timeout=60)[1]}") from None


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
    # The signal arrives while the child is held after step 7 (between the validations of 5 and
    # 10): it finishes that step, saves and stops there.
    with Holds(tmp_path / "holds", "step:7") as holds:
        proc = start("train", "--corpus", book, "--out", out, "--eval-interval", "5", *FOREVER, *TINY, holds=holds)
        holds.wait("step:7", proc)
        proc.send_signal(signal.SIGINT)
        holds.release()
        err = finish(proc)
    assert proc.returncode == 130, err
    assert one_line(err) == f"wordgen: interrupted at step 7; resume with: wordgen train --resume {out}"
    assert state_step(out) == 7  # the state of the step it stopped at, not of the last validation
    assert temporaries(out) == []

    with Holds(tmp_path / "holds-2", "step:12") as holds:
        proc = start("train", "--resume", out, *FOREVER, "--quiet", holds=holds)
        holds.wait("step:12", proc)
        proc.send_signal(signal.SIGTERM)
        holds.release()
        err = finish(proc)
    assert proc.returncode == 143, err
    assert re.fullmatch(r"wordgen: interrupted at step 12; resume .*", one_line(err)), err
    stopped = 12
    assert state_step(out) == stopped

    code, stdout, err = run_cli(capsys, "train", "--resume", out, "--max-steps", stopped + 3, "--quiet")
    assert code == 0, err
    assert f"resumed at step {stopped}, trained 3 more to step {stopped + 3}" in stdout
    steps = [row["step"] for row in ckpt.read_metrics(out)]
    assert steps == sorted(set(steps)) and steps[-1] == stopped + 3


def test_a_second_ctrl_c_exits_at_once_inside_the_save(book, tmp_path):
    # The first SIGINT arrives after step 53, among plain training steps (validations are 50
    # apart), so the stop makes a save of its own; the child is then held inside that save
    # and never let go. The second SIGINT must end it there, leaving the state of step 50 whole:
    # a child that waited for its save to finish would never exit (finish() fails after 120 s).
    out = tmp_path / "run"
    with Holds(tmp_path / "holds", "step:53", "save:trainer_state.pt") as holds:
        proc = start("train", "--corpus", book, "--out", out, "--eval-interval", "50", *FOREVER, *TINY, holds=holds)
        holds.wait("step:53", proc)
        proc.send_signal(signal.SIGINT)
        holds.release()
        holds.wait("save:trainer_state.pt", proc)
        assert state_step(out) == 50 and len(temporaries(out)) == 1  # held inside the stop's save
        proc.send_signal(signal.SIGINT)
        err = finish(proc)
    assert proc.returncode == 130, err
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
    holds = Holds(tmp_path / "holds", "step:6")  # held after its first validation, as long as the test needs
    first = start("train", "--corpus", book, "--out", out, "--eval-interval", "5", *FOREVER, *TINY, holds=holds)
    try:
        holds.wait("step:6", first)
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
        first.communicate(timeout=60)
        holds.close()
    stopped = state_step(out)
    assert stopped == 5
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


# Where the kills of the loop land, in order: a new run is killed inside the save of each of its
# files (the first trainer state included) and after a step; once a trainer state exists, a
# resumed run is killed after a step, inside its first save and inside its second.
NEW_RUN_KILLS = [("save:config.json",), ("save:tokenizer.json",), ("save:model.safetensors",),
                 ("save:trainer_state.pt",), ("step:3",)]
RESUMED_KILLS = [("step:+1",), ("save:trainer_state.pt",), ("step:+1", "save:trainer_state.pt", "save:trainer_state.pt")]


def _resumed_kill_points(rng: random.Random, extra: int) -> list[tuple[str, ...]]:
    """RESUMED_KILLS and `extra` more; "step:+N" is N steps after the resumed step (known only then)."""
    points = [*RESUMED_KILLS]
    for _ in range(extra):  # WORDGEN_KILLS: more, at seeded random steps and saves
        points.append(rng.choice([(f"step:+{rng.randint(1, 7)}",), ("save:trainer_state.pt",) * rng.randint(1, 3)]))
    return points


@pytest.mark.slow
def test_kill_9_inside_every_save_loses_no_checkpoint(book, tmp_path, capsys):
    rng = random.Random(12)
    out = tmp_path / "run"
    tally = dict(tried=0, inside_a_save=0, lost=0, torn_metrics=0)
    last = None  # step of the last trainer state seen whole
    plan = [*NEW_RUN_KILLS, *_resumed_kill_points(rng, int(os.environ.get("WORDGEN_KILLS", "0")))]
    for n, points in enumerate(plan):
        if last is None:
            if n >= len(NEW_RUN_KILLS):
                raise AssertionError("the new-run kills left no trainer state to resume")
            argv = ["train", "--corpus", book, "--out", out, "--overwrite", "--eval-interval", "2", *FOREVER, *TINY]
        else:
            argv = ["train", "--resume", out, *FOREVER, "--quiet"]
            points = tuple(f"step:{last + int(p[6:])}" if p.startswith("step:+") else p for p in points)
        left_before = set(temporaries(out)) if out.exists() else set()
        with Holds(tmp_path / f"holds-{n}", *points) as holds:
            proc = start(*argv, holds=holds)
            for point in points[:-1]:
                holds.wait(point, proc)
                holds.release()
            holds.wait(points[-1], proc)
            # Held: a save has its temporary file written and not yet renamed (a process killed before
            # it took the lock has not cleared those of the kill before, hence the difference).
            in_save = bool(set(temporaries(out)) - left_before)
            assert in_save == points[-1].startswith("save:"), (points, temporaries(out))
            proc.kill()
            proc.communicate(timeout=60)
        tally["tried"] += 1
        tally["inside_a_save"] += in_save
        step, torn = _check_after_kill(out)
        tally["torn_metrics"] += torn
        if last is not None and (step is None or step < last):
            tally["lost"] += 1
        last = step if step is not None else last
    with capsys.disabled():  # the counts the README quotes; pytest -s shows them
        print(f"\nkill -9 loop: {tally}")
    assert tally["lost"] == 0, tally
    assert tally["inside_a_save"] == sum(points[-1].startswith("save:") for points in plan), tally
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
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True, text=True, timeout=60)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); a full disk is then met only as the "
                    "injected error of test_a_failed_write_keeps_the_previous_checkpoint_and_names_the_folder, "
                    "a read-only folder by test_a_read_only_checkpoint_folder_refuses_writers_and_still_generates")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], capture_output=True, timeout=60)


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

    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True, timeout=60)
    code, _, err = run_cli(capsys, "train", "--resume", out, "--max-steps", "8", "--quiet")
    assert code == 1 and one_line(err) == f"wordgen: error: cannot lock {out} (Read-only file system)", err
    assert {name: (out / name).read_bytes() for name in ckpt.FILES} == before
    code, text, err = run_cli(capsys, "generate", out, "--max-tokens", "5")  # reading still works
    assert code == 0, err


def _bound_by_permissions() -> list[str] | None:
    """A command prefix under which a child process obeys file permissions; None where none can be had.

    An ordinary user obeys them already. Root does not (CAP_DAC_OVERRIDE): without that capability and
    CAP_DAC_READ_SEARCH, dropped from the bounding set by util-linux's setpriv before the child starts,
    root is held to the owner's permission bits like anyone else, and still reads its own files (the
    interpreter may live under /root, which an unprivileged user such as nobody could not even run).
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search"]
    probe = subprocess.run([*prefix, sys.executable, "-c", "pass"], capture_output=True, timeout=60)
    return prefix if probe.returncode == 0 else None


def test_a_read_only_checkpoint_folder_refuses_writers_and_still_generates(trained, book):
    out = Path(trained.bundle.config.out)
    prefix = _bound_by_permissions()
    if prefix is None:
        pytest.skip("running as root with no setpriv that can drop CAP_DAC_OVERRIDE: root writes into a "
                    "read-only folder, so there is none to test here")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}

    def wordgen(*argv) -> subprocess.CompletedProcess:
        return subprocess.run([*prefix, sys.executable, "-m", "wordgen.cli", *map(str, argv)], capture_output=True,
                              text=True, env=env, timeout=300)

    before = {p.name: p.read_bytes() for p in out.iterdir()}
    modes = {p: p.stat().st_mode for p in [out, *out.iterdir()]}
    for path, mode in modes.items():  # the folder and every file in it (the lock file too) read-only
        os.chmod(path, mode & ~0o222)
    try:
        resumed = wordgen("train", "--resume", out, "--max-steps", "20", "--quiet")
        fresh = wordgen("train", "--corpus", book, "--out", out, "--overwrite", "--max-steps", "2", "--quiet", *TINY)
        generated = wordgen("generate", out, "--prompt", "ROMEO:", "--max-tokens", "5")
    finally:
        for path, mode in modes.items():
            os.chmod(path, mode)
    assert resumed.returncode == 1, resumed.stderr
    assert one_line(resumed.stderr) == f"wordgen: error: cannot lock {out} (Permission denied)", resumed.stderr
    assert fresh.returncode == 1, fresh.stderr  # a storage failure (exit 1); a new run over it: refused at the same lock, before any file
    assert one_line(fresh.stderr) == f"wordgen: error: cannot lock {out} (Permission denied)", fresh.stderr
    assert generated.returncode == 0 and generated.stdout.startswith("ROMEO:"), generated.stderr  # reading works
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing written, nothing left behind
