"""Interrupted and resumed runs equal uninterrupted ones, bit for bit, and count on where they stopped.

Stops are real signals (signal.raise_signal) delivered after chosen optimizer steps,
through the handlers train() installs; the run then saves and raises Interrupted,
and `train(resume=True)` continues it. The schedule is the real one (linear
warm-up, then cosine), dropout is on (so the restored random state matters), and
the stops fall mid-interval, on a validation step, on the last window of an epoch
and on the first of the next. Each resumed run must equal the run made straight
through: `torch.equal` on every tensor of the last and the best weights and of the
optimizer state, and the same metrics.jsonl rows (all but the wall-clock "elapsed").
"""

import signal
import sys

import pytest
import torch
from helpers import tiny_model_config, tiny_train_config

from wordgen.data import batchify, windows_per_epoch
from wordgen.device import cpu_runs_bf16_rnns
from wordgen.training import checkpoint as ckpt
from wordgen.training.checkpoint import Bundle
from wordgen.training.loop import train
from wordgen.training.prepare import prepare
from wordgen.training.stopping import Interrupted

train_module = sys.modules["wordgen.training.loop"]

# 16 rows of the test book make 31 windows of 8 tokens per epoch (the last one 2 tokens
# long), so a 40-step run crosses an epoch boundary after step 31.
EPOCH = 31


def config(book, out, rnn: str, **overrides):
    # Every field the size rule would fill from the passes is given: under a time budget the passes come
    # from a measured rate, which differs between two runs on a busy machine (and so would the runs).
    model = tiny_model_config(num_layers=2, dropout=0.3, rnn_type=rnn, input_dropout=0.1, hidden_dropout=0.1,
                              embedding_dropout=0.0, weight_dropout=0.0)
    settings = dict(model=model, batch_size=16, max_steps=40, eval_interval=7, warmup_steps=10, lr_min_ratio=0.1,
                    lr=1e-2, weight_decay=0.01)
    settings.update(overrides)
    return tiny_train_config(book, out, **settings)


def signal_after(monkeypatch, ticks: list | None = None) -> dict[int, int]:
    """Deliver stops[step] (a signal number) right after that optimizer step; tick the fake clock per step.

    Returns the `stops` dict, empty: a test fills it in before the run it means to stop.
    """
    real, stops = train_module._step, {}

    def step_then_signal(run, *args):
        loss = real(run, *args)
        if ticks is not None:
            ticks[0] += 1.0
        if run.cursor.step in stops:
            signal.raise_signal(stops[run.cursor.step])
        return loss

    monkeypatch.setattr(train_module, "_step", step_then_signal)
    return stops


def run_with_stops(cfg, stops: dict[int, int]) -> list[Interrupted]:
    """Train cfg, resuming after every stop until it finishes; return the Interrupted of each stop."""
    caught = []
    try:
        train(cfg)
    except Interrupted as err:
        caught.append(err)
    while len(caught) < len(stops) + 1:
        resumed = ckpt.load_config(cfg.out)
        try:
            train(resumed, resume=True)
            break
        except Interrupted as err:
            caught.append(err)
    return caught


def assert_same_run(a, b):
    """Two checkpoint folders hold the same run: last and best weights, optimizer, counters, metrics."""
    sa, sb = ckpt.load_trainer_state(a), ckpt.load_trainer_state(b)
    for key in ("step", "epoch", "cursor", "best_val_loss", "tokens", "loss_sum", "loss_count"):
        assert sa[key] == sb[key], key
    for name, tensor in sa["model"].items():
        assert torch.equal(tensor, sb["model"][name]), name
    for (ka, va), (kb, vb) in zip(sa["optimizer"]["state"].items(), sb["optimizer"]["state"].items()):
        assert ka == kb and all(torch.equal(va[k], vb[k]) for k in va), ka
    assert all(torch.equal(x, y) for x, y in zip(sa["hidden"], sb["hidden"]))
    best_a, best_b = Bundle.load(a, device="cpu").model.state_dict(), Bundle.load(b, device="cpu").model.state_dict()
    assert all(torch.equal(best_a[name], best_b[name]) for name in best_a)
    rows_a, rows_b = ckpt.read_metrics(a), ckpt.read_metrics(b)
    assert [{k: v for k, v in r.items() if k != "elapsed"} for r in rows_a] == \
           [{k: v for k, v in r.items() if k != "elapsed"} for r in rows_b]
    return rows_a


def test_the_test_book_crosses_an_epoch_where_the_stops_assume(book, tmp_path):
    cfg = config(book, tmp_path / "x", "lstm")
    _, _, train_stream, _ = prepare(cfg)
    assert windows_per_epoch(batchify(train_stream.ids, cfg.batch_size), cfg.seq_len) == EPOCH


# bf16 where this CPU runs it (wordgen refuses it elsewhere): the GRU is resumed either way.
@pytest.mark.parametrize("rnn, precision", [("lstm", "fp32"), ("gru", "bf16" if cpu_runs_bf16_rnns() else "fp32")])
def test_stopped_and_resumed_runs_equal_the_straight_run(rnn, precision, book, tmp_path, monkeypatch):
    stops = signal_after(monkeypatch)
    straight = train(config(book, tmp_path / "straight", rnn, precision=precision))
    # Mid-interval in the warm-up (SIGINT), on a validation step (SIGTERM), on the epoch's
    # last window and on the next epoch's first (SIGINT).
    stops.update({5: signal.SIGINT, 14: signal.SIGTERM, EPOCH: signal.SIGINT, EPOCH + 1: signal.SIGINT})
    caught = run_with_stops(config(book, tmp_path / "stopped", rnn, precision=precision), stops)
    assert [(e.step, e.saved_step, e.signum) for e in caught] == [(s, s, n) for s, n in stops.items()]
    assert [e.exit_code for e in caught] == [130, 143, 130, 130]
    assert str(caught[0]) == ("interrupted at step 5; resume with: train(config, resume=True) with "
                              f"TrainConfig.out = {str(tmp_path / 'stopped')!r}")
    rows = assert_same_run(tmp_path / "straight", tmp_path / "stopped")
    assert [r["step"] for r in rows] == [7, 14, 21, 28, 35, 40]
    assert rows[-1]["tokens"] == straight.history[-1]["tokens"] == 16 * (30 * 8 + 2 + 9 * 8)
    assert rows[-1]["epoch"] > 1  # the run did cross the epoch boundary


def test_a_time_budget_counts_every_call_and_resumes_its_schedule(book, tmp_path, monkeypatch):
    # A fake clock that moves one second per optimizer step makes the budget's stopping
    # point and its cosine schedule (progress = seconds / budget) repeatable.
    ticks = [0.0]
    monkeypatch.setattr(train_module, "_clock", lambda: ticks[0])
    stops = signal_after(monkeypatch, ticks)
    budgeted = dict(max_steps=None, time_budget=25.0)
    train(config(book, tmp_path / "straight", "lstm", **budgeted))
    stops.update({9: signal.SIGINT, 18: signal.SIGINT})
    caught = run_with_stops(config(book, tmp_path / "stopped", "lstm", **budgeted), stops)
    assert [e.step for e in caught] == [9, 18]
    assert ckpt.load_trainer_state(tmp_path / "stopped")["elapsed"] == 25.0  # the seconds of all three calls
    rows = assert_same_run(tmp_path / "straight", tmp_path / "stopped")
    assert rows[-1]["step"] == 25 and [r["elapsed"] for r in rows] == [7.0, 14.0, 21.0, 25.0]


def test_a_second_signal_stops_at_once_inside_the_save_and_the_last_state_is_whole(book, tmp_path, monkeypatch):
    # The first SIGINT after step 17 asks for a stop; the second arrives while that stop's
    # trainer state is being written (after the temporary file, before its rename).
    stops = signal_after(monkeypatch)
    train(config(book, tmp_path / "straight", "lstm"))
    stops[17] = signal.SIGINT
    in_stop_save = []
    real_hold, real_save = train_module.ckpt._io.hold_for_tests, train_module._save_state

    def second_signal_inside_the_stop_save(kind, what):
        if in_stop_save and kind == "save":  # the hook's point inside every save (wordgen._io.hold_for_tests)
            signal.raise_signal(signal.SIGINT)
        real_hold(kind, what)

    def save(run):
        if run.cursor.step == 17:  # the periodic saves at 7 and 14 go through undisturbed
            in_stop_save.append(True)
        real_save(run)

    monkeypatch.setattr(train_module.ckpt._io, "hold_for_tests", second_signal_inside_the_stop_save)
    monkeypatch.setattr(train_module, "_save_state", save)
    out = tmp_path / "stopped"
    with pytest.raises(Interrupted) as err:
        train(config(book, out, "lstm"))
    assert (err.value.step, err.value.saved_step, err.value.exit_code) == (17, 14, 130)
    assert err.value.describe("RESUME") == "stopped at once at step 17; the checkpoint of step 14 is whole; resume with: RESUME"
    assert ckpt.load_trainer_state(out)["step"] == 14
    assert sorted(p.name for p in out.iterdir()) == sorted([".lock", *ckpt.FILES])  # no temporary file left
    in_stop_save.clear()
    stops.clear()
    train(ckpt.load_config(out), resume=True)
    assert_same_run(tmp_path / "straight", out)
