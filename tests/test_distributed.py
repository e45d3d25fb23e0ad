"""Data-parallel training with torchrun / DistributedDataParallel, for real: 2 gloo processes on the CPU.

Two processes with batch B each must take the same steps as one process with batch 2B (same
losses to float rounding), write the checkpoint once, resume in either form, and stop with one
line instead of hanging when the other process dies or hangs. Every test starts real processes
(a few seconds each on 2 cores): tiny model, a handful of steps.
"""

import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from helpers import Holds, tiny_flags, tiny_model_config, tiny_train_config

from wordgen.cli import main
from wordgen.config import TrainConfig
from wordgen.training import checkpoint as ckpt
from wordgen.training.loop import train

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent
# Constant learning rate after a short warm-up: a run resumed with a larger --max-steps then
# follows the same schedule as one that went straight there. No dropout: with it, N processes
# draw other masks than one does, and the losses could not be compared.
SETTINGS = dict(batch_size=8, max_steps=8, eval_interval=2, warmup_steps=2, lr=5e-2, lr_min_ratio=1.0,
                precision="fp32", device="cpu",
                model=tiny_model_config(input_dropout=0.0, hidden_dropout=0.0, embedding_dropout=0.0,
                                        weight_dropout=0.0))


def _env(**extra) -> dict:
    # One thread per process: 2 processes on 2 cores. The package is importable from the worktree.
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path, **extra}


def _run(args: list[str], timeout: float = 180) -> subprocess.CompletedProcess:
    """Run a launcher in its own session; on a timeout its workers are killed with it (no orphans)."""
    proc = subprocess.Popen(args, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate(timeout=60)
        raise AssertionError(f"{args[:6]} did not finish in {timeout} s:\n{err[-3000:]}") from None
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def _rows(folder) -> list[dict]:
    return [json.loads(line) for line in open(Path(folder) / ckpt.METRICS_FILE)]


def _assert_same_curve(rows, reference, steps):
    by_step = {r["step"]: r for r in reference}
    assert [r["step"] for r in rows] == steps
    for row in rows:
        for key in ("train_loss", "val_loss"):
            assert row[key] == pytest.approx(by_step[row["step"]][key], rel=1e-5, abs=1e-6), (row["step"], key)


def test_two_processes_take_the_steps_of_one_with_the_whole_batch(tmp_path, book):
    single = train(tiny_train_config(book, tmp_path / "single", **SETTINGS))
    reference = single.history
    assert reference[-1]["train_loss"] < reference[0]["train_loss"] - 0.05  # it learns: each step matters

    # torchrun itself, starting train() twice: 2 ranks x 4 rows of the 8-row table, 4 steps.
    config = tiny_train_config(book, tmp_path / "ddp", **{**SETTINGS, "max_steps": 4})
    run = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
                str(ROOT / "tests" / "ddp_worker.py"), json.dumps(config.to_dict())])
    assert run.returncode == 0, run.stderr[-2000:]
    _assert_same_curve(_rows(tmp_path / "ddp"), reference, [2, 4])  # each row written once, by rank 0
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == sorted(  # no temporary files, no second lock
        [ckpt.CONFIG_FILE, ckpt.TOKENIZER_FILE, ckpt.WEIGHTS_FILE, ckpt.STATE_FILE, ckpt.METRICS_FILE, ckpt.LOCK_FILE])
    state = ckpt.load_trainer_state(tmp_path / "ddp")
    assert state["hidden"][0].shape == (1, 8, 16)  # both ranks' rows, as one process holds them
    assert state["rng_ranks"].shape[0] == 2

    # One process resumes the two-process checkpoint...
    shutil.copytree(tmp_path / "ddp", tmp_path / "ddp_then_one")
    resumed = ckpt.load_config(tmp_path / "ddp_then_one")
    resumed.max_steps, resumed.out = 8, str(tmp_path / "ddp_then_one")
    assert train(resumed, resume=True).steps == 8
    _assert_same_curve(_rows(tmp_path / "ddp_then_one"), reference, [2, 4, 6, 8])

    # ...and two processes resume it too, through `wordgen train --nproc 2` (torchrun's launcher).
    run = _run([sys.executable, "-m", "wordgen", "train", "--resume", str(tmp_path / "ddp"),
                "--max-steps", "8", "--time-budget", "120", "--nproc", "2", "--quiet"])
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.count("to step 8") == 1 and run.stdout.count("checkpoint:") == 1  # rank 0 speaks for the run
    _assert_same_curve(_rows(tmp_path / "ddp"), reference, [2, 4, 6, 8])
    last = {k: ckpt.load_trainer_state(tmp_path / name)["model"] for k, name in (("ddp", "ddp"), ("one", "single"))}
    for name, weight in last["ddp"].items():
        torch.testing.assert_close(weight, last["one"][name], rtol=1e-4, atol=1e-5)


def _unused_port() -> int:
    """A port no one listens on, below the kernel's ephemeral range (/proc/sys/net/ipv4/ip_local_port_range,
    32768 and up by default), where bind(port 0) and outgoing connections take theirs: rank 0's store binds
    it only after the test has let it go, and a port from that range could be handed to someone else
    meanwhile; one from below it is taken only by a process that asks for that very number."""
    rng = random.Random()
    for _ in range(100):
        port = rng.randrange(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError("no free port between 20000 and 32000")


def _two_ranks(tmp_path, book, *extra: str, holds: dict[int, Holds] | None = None) -> list[subprocess.Popen]:
    """Two `wordgen train` processes joined by hand, as torchrun would join them (no launcher to stop them);
    holds[rank] holds that rank at its points."""
    port, holds = _unused_port(), holds or {}
    args = [sys.executable, "-m", "wordgen", "train", "--corpus", str(book), "--out", str(tmp_path / "run"),
            "--max-steps", "100000", "--eval-interval", "5", *tiny_flags(batch_size=8, quiet=True), *extra]
    return [subprocess.Popen(args, env=_env(RANK=str(r), LOCAL_RANK=str(r), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1",
                                            MASTER_PORT=str(port), **(holds[r].env() if r in holds else {})),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in (0, 1)]


# Steps of the tiny model take milliseconds; the timeout of each collective must still outlast a
# busy 2-core machine's worst pause between two ranks' steps (a save, a validation), and bounds
# how long the "hangs" test waits.
DIST_TIMEOUT = 10


@pytest.mark.parametrize("how", ["dies", "hangs"])
def test_when_a_rank_dies_or_hangs_the_other_stops_with_one_line(tmp_path, book, how):
    # Rank 1 is held after step 6 (the validation of step 5 is saved): rank 0 waits for it in the
    # next collective, and rank 1 is then killed or stopped where it stands.
    with Holds(tmp_path / "holds", "step:6") as hold:
        procs = _two_ranks(tmp_path, book, "--dist-timeout", str(DIST_TIMEOUT), holds={1: hold})
        try:
            hold.wait("step:6", procs[1])
            procs[1].send_signal(signal.SIGKILL if how == "dies" else signal.SIGSTOP)
            began = time.monotonic()
            _, err = procs[0].communicate(timeout=60 + DIST_TIMEOUT)
            waited = time.monotonic() - began
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                p.communicate(timeout=60)
    assert procs[0].returncode == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("wordgen: error: rank 0 lost contact"), err
    assert "the last checkpoint is intact" in lines[0]
    if how == "hangs":
        # Rank 0's wait began a moment before the hold was announced (rank 1 still had to say so):
        # half the timeout is a lower bound that no pause of a busy machine can undercut.
        assert "Timed out" in lines[0] and waited >= DIST_TIMEOUT / 2, waited  # it waited, then gave up
    assert ckpt.load_trainer_state(tmp_path / "run")["step"] == 5  # what was saved is whole


def test_the_launcher_reports_failed_processes_in_one_line(tmp_path, book):
    # A batch of 3 cannot be shared by 2 processes: each says so, and the launcher sums up.
    run = _run([sys.executable, "-m", "wordgen", "train", "--corpus", str(book), "--out",
                str(tmp_path / "x"), "--max-steps", "1", "--batch-size", "3", "--nproc", "2"])
    assert run.returncode == 1
    lines = run.stderr.strip().splitlines()
    # Whichever rank the launcher saw fail first (the other may be stopped by it before it exits).
    assert re.match(r"wordgen: error: training process rank [01] exited with status 2", lines[-1]), run.stderr
    assert all(line.startswith("wordgen: error: ") for line in lines) and len(lines) in (2, 3), run.stderr
    assert "multiple of 2" in lines[0]


def test_nproc_under_torchrun_is_refused(monkeypatch, capsys, book, tmp_path):
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["train", "--corpus", str(book), "--out", str(tmp_path / "x"), "--max-steps", "1",
                 "--nproc", "2"]) == 2
    assert "under torchrun" in capsys.readouterr().err


def test_a_batch_that_the_processes_cannot_share_is_a_config_error():
    from wordgen.distributed import global_batch_share
    from wordgen.errors import ConfigError

    assert global_batch_share(32, 4) == 8
    with pytest.raises(ConfigError, match="multiple of 3"):
        global_batch_share(32, 3)
    assert TrainConfig().dist_timeout > 0


def test_ctrl_c_stops_every_rank_at_the_same_step_with_the_state_saved(tmp_path, book):
    # Ctrl-C reaches every process of the run, not at the same instant: the ranks agree
    # on the stop before each step, so they leave together and rank 0 saves a whole state.
    # Rank 0 is held after step 6 (rank 1 waits for it in the next step's agreement) while Ctrl-C
    # reaches both: they must stop together after step 6.
    with Holds(tmp_path / "holds", "step:6") as hold:
        procs = _two_ranks(tmp_path, book, holds={0: hold})
        try:
            hold.wait("step:6", procs[0])
            for p in reversed(procs):  # one after the other, as a terminal's Ctrl-C reaches a process group
                p.send_signal(signal.SIGINT)
            hold.release()
            results = [p.communicate(timeout=60) for p in procs]
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.communicate(timeout=60)
    assert [p.returncode for p in procs] == [130, 130], results
    said = results[0][1].strip().splitlines()
    assert len(said) == 1 and said[0].startswith("wordgen: interrupted at step"), results[0][1]
    assert results[1][1].strip() == ""  # rank 0 speaks for the run
    step = int(said[0].split("step ")[1].split(";")[0])
    assert step == 6 and ckpt.load_trainer_state(tmp_path / "run")["step"] == step
