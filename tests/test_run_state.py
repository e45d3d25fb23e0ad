"""The run's state pieces alone: their round trips through trainer_state.pt's entries, and their rules.

wordgen.training.state (Cursor, LossTally, Clock, Best, Limits) and the early-stopping
rule (wordgen.training.plateau.EarlyStopping), without a model; then one tiny run
whose trainer_state.pt has exactly the layout old checkpoints have.
"""

import math

import pytest
import torch
from helpers import tiny_train_config

from wordgen.config import TrainConfig
from wordgen.training import checkpoint as ckpt
from wordgen.training import trainer_state
from wordgen.training.loop import train
from wordgen.training.plateau import Decision, EarlyStop, EarlyStopping
from wordgen.training.state import Best, Clock, Cursor, Limits, LossTally

K, N, D, B = Decision.KEEP_GOING, Decision.NEW_BEST, Decision.DROP_LR, Decision.STOP  # B: break off


def rule(patience=2, plateau_drops=1, plateau_factor=4.0) -> EarlyStopping:
    return EarlyStopping.from_config(TrainConfig(corpus="x", patience=patience, plateau_drops=plateau_drops,
                                                 plateau_factor=plateau_factor, max_steps=1))


# ---------------------------------------------------------------- Cursor


def test_the_cursor_advances_past_each_window_and_starts_each_epoch_afresh():
    cursor = Cursor()
    h = (torch.zeros(1, 4, 3), torch.ones(1, 4, 3))
    cursor.advance(h, end=8, tokens=32)
    cursor.advance(h, end=16, tokens=32)
    assert (cursor.step, cursor.epoch, cursor.position, cursor.tokens, cursor.hidden) == (2, 0, 16, 64, h)
    assert cursor.epochs(row_length=32) == 0.5
    cursor.next_epoch()
    assert (cursor.step, cursor.epoch, cursor.position, cursor.tokens, cursor.hidden) == (2, 1, 0, 64, None)
    assert cursor.epochs(row_length=0) == 1.0  # an empty table does not divide by zero


@pytest.mark.parametrize("hidden", [None, torch.arange(6.0).view(1, 2, 3),
                                    (torch.arange(6.0).view(1, 2, 3), -torch.arange(6.0).view(1, 2, 3))])
def test_the_cursor_round_trips_through_its_entries(hidden):
    cursor = Cursor(step=7, epoch=2, position=24, hidden=hidden, tokens=1234)
    state = cursor.to_state()
    assert list(state) == ["step", "epoch", "cursor", "hidden", "tokens"]
    assert state["cursor"] == 24 and isinstance(state["hidden"], list)
    assert len(state["hidden"]) == {type(None): 0, torch.Tensor: 1, tuple: 2}[type(hidden)]
    back = Cursor.from_state(state, hidden=hidden, row_length=99, batch_size=99)
    assert back == cursor


def test_a_cursor_saved_before_tokens_were_counted_derives_them_from_its_position():
    # Each epoch reads L - 1 targets per row: 2 epochs of 9 columns and 5 into the third, 4 rows.
    back = Cursor.from_state({"step": 3, "epoch": 2, "cursor": 5}, hidden=None, row_length=10, batch_size=4)
    assert back.tokens == 4 * (2 * 9 + 5)


# ---------------------------------------------------------------- LossTally, Clock, Best, Limits


def test_the_loss_tally_averages_since_its_reset_and_round_trips():
    tally = LossTally()
    assert math.isnan(tally.mean())
    for loss in (1.0, 2.0, 4.5):
        tally.add(loss)
    assert (tally.total, tally.count, tally.mean()) == (7.5, 3, 2.5)
    assert tally.to_state() == {"loss_sum": 7.5, "loss_count": 3}
    assert LossTally.from_state(tally.to_state()) == tally
    assert LossTally.from_state({}) == LossTally()  # states saved before the tally
    tally.reset()
    assert tally == LossTally()


def test_the_clock_adds_the_earlier_calls_seconds_and_round_trips():
    now = [100.0]
    clock = Clock.from_state({"elapsed": 30.0}, now=lambda: now[0])
    clock.start()
    now[0] = 112.5
    assert (clock.elapsed(), clock.this_call()) == (42.5, 12.5)
    assert clock.to_state() == {"elapsed": 42.5}
    again = Clock.from_state(clock.to_state(), now=lambda: now[0])
    again.start()
    assert again.elapsed() == 42.5
    assert Clock.from_state({}, now=lambda: 0.0).before == 0.0


def test_the_best_round_trips_and_an_old_state_has_only_its_loss():
    best = Best(loss=1.25, step=40, bpc=2.5)
    assert best.to_state() == {"best_val_loss": 1.25, "best_step": 40, "best_bpc": 2.5}
    assert Best.from_state(best.to_state()) == best
    assert Best.from_state({"best_val_loss": 1.25}) == Best(loss=1.25, step=0, bpc=math.inf)
    with pytest.raises(AttributeError):
        best.loss = 0.0  # frozen: the early-stopping rule replaces it, nobody edits it


def test_the_limits_stop_at_the_first_one_reached_and_the_schedule_follows_the_nearest():
    limits = Limits.from_config(TrainConfig(corpus="x", max_steps=100, epochs=2, time_budget=60.0), epoch_windows=30)
    assert (limits.steps, limits.seconds, limits.chars) == (60, 60.0, math.inf)  # 2 epochs of 30 before 100 steps
    assert not limits.reached(59, 59.9, 1e9) and limits.reached(60, 0.0, 0.0) and limits.reached(0, 60.0, 0.0)
    assert limits.progress(15, 30.0, 1e9) == 0.5  # the seconds are further on than the steps
    by_time = Limits.from_config(TrainConfig(corpus="x", time_budget=10.0, max_chars=1000), epoch_windows=30)
    assert by_time.steps == math.inf and by_time.progress(500, 2.0, 600.0) == 0.6


# ---------------------------------------------------------------- early stopping


def test_the_rule_answers_each_validation_with_what_to_do():
    stopping = rule(patience=2, plateau_drops=1, plateau_factor=4.0)
    losses = [3.0, 2.5, 2.6, 2.7, 2.4, 2.45, 2.5, 2.3, 2.9, 2.8]
    decisions = [stopping.update(step, loss, bpc=loss * 2) for step, loss in enumerate(losses, 1)]
    # Two checks without a new best drop the rate once; a new best resets the count, not the drops;
    # two more without one find the drops used up: stop (and again after the 2.3, were it asked).
    assert decisions == [N, N, K, D, N, K, B, N, K, B]
    assert (stopping.drops, stopping.lr_scale, stopping.bad_checks) == (1, 0.25, 0)
    assert stopping.best == Best(loss=2.3, step=8, bpc=4.6)
    assert stopping.stopped(step=10, epoch=1.5) == EarlyStop(step=10, epoch=1.5, best_step=8, best_val_bpc=4.6)


def test_two_drops_then_a_stop_and_without_patience_never():
    stopping = rule(patience=1, plateau_drops=2, plateau_factor=2.0)
    assert [stopping.update(s, loss, 0.0) for s, loss in enumerate([1.0, 1.5, 1.5, 1.5], 1)] == [N, D, D, B]
    assert stopping.lr_scale == 0.25
    patient = rule(patience=None)
    assert [patient.update(s, loss, 0.0) for s, loss in enumerate([1.0, *[2.0] * 20], 1)] == [N] + [K] * 20
    assert patient.lr_scale == 1.0


def test_the_rule_round_trips_through_the_files_entries():
    stopping = rule()
    for step, loss in enumerate([2.0, 1.0, 1.5, 1.6], 1):
        stopping.update(step, loss, bpc=loss / 2)
    state = stopping.to_state()
    assert state == {"best_val_loss": 1.0,
                     "early_stopping": {"bad_checks": 0, "drops": 1, "lr_scale": 0.25, "best_step": 2, "best_bpc": 0.5}}
    assert list(state["early_stopping"]) == ["bad_checks", "drops", "lr_scale", "best_step", "best_bpc"]
    config = TrainConfig(corpus="x", patience=2, plateau_drops=1, plateau_factor=4.0, max_steps=1)
    assert EarlyStopping.from_state(state, config) == stopping
    # A state saved before early stopping existed: the best loss, fresh counters.
    assert EarlyStopping.from_state({"best_val_loss": 1.0}, config) == EarlyStopping(
        patience=2, max_drops=1, factor=4.0, best=Best(loss=1.0))
    with pytest.raises((TypeError, ValueError)):
        EarlyStopping.from_state({"best_val_loss": 1.0, "early_stopping": {"drops": "many"}}, config)


# ---------------------------------------------------------------- the file they compose


def test_a_trained_runs_state_file_keeps_the_layout_old_checkpoints_have(book, tmp_path, one_torch_thread):
    train(tiny_train_config(book, tmp_path / "run", max_steps=6, eval_interval=3, patience=1))
    state = ckpt.load_trainer_state(tmp_path / "run")
    assert list(state) == ["model", "optimizer", "step", "epoch", "cursor", "best_val_loss", "hidden", "rng",
                           "rng_ranks", "tokens", "elapsed", "loss_sum", "loss_count", "early_stopping"]
    assert list(state) == [key for key in trainer_state.LAYOUT if key in state]
    assert list(state["early_stopping"]) == ["bad_checks", "drops", "lr_scale", "best_step", "best_bpc"]
    assert (state["step"], state["loss_count"], len(state["hidden"])) == (6, 0, 2)  # (h, c) of the LSTM
    assert tuple(state["hidden"][0].shape) == (1, 4, 16)  # (layers, B, H)
