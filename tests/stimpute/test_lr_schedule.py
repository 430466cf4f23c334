import math

import pytest

import stimpute
from stimpute import training
from stimpute.config import TrainConfig
from stimpute.training import BudgetClock, cosine_lr
from tests.conftest import TINY


def test_cosine_follows_steps_without_a_budget():
    cfg = TrainConfig(lr=1e-3, lr_min=1e-5, warmup_steps=10)
    assert cosine_lr(0, 110, cfg) == pytest.approx(1e-4)  # warm-up: (step + 1) / 10 of lr
    assert cosine_lr(10, 110, cfg) == pytest.approx(1e-3)
    assert cosine_lr(60, 110, cfg) == pytest.approx(1e-5 + 0.5 * (1e-3 - 1e-5))  # half-way
    assert cosine_lr(110, 110, cfg) == pytest.approx(1e-5)


def test_cosine_follows_the_budget_when_it_runs_out_before_the_steps():
    cfg = TrainConfig(lr=1e-3, lr_min=1e-5, warmup_steps=10)
    # a quarter of the steps but half the time: the cosine is half-way
    assert cosine_lr(35, 110, cfg, spent=0.5) == pytest.approx(1e-5 + 0.5 * (1e-3 - 1e-5))
    assert cosine_lr(35, 110, cfg, spent=1.3) == pytest.approx(1e-5)  # past the budget: floor
    # the steps run out first: they set it
    want = 1e-5 + 0.5 * (1e-3 - 1e-5) * (1 + math.cos(math.pi * 0.75))
    assert cosine_lr(85, 110, cfg, spent=0.1) == pytest.approx(want)


def test_budget_clock_counts_from_the_end_of_the_warmup(monkeypatch):
    now = {"t": 100.0}
    monkeypatch.setattr(training.time, "perf_counter", lambda: now["t"])
    clock = BudgetClock(budget_s=50.0, warmup_steps=5)
    now["t"] = 110.0
    assert clock.spent(3) == 0.0  # still warming up
    assert clock.spent(5) == 0.0  # the warm-up ends here, 10 s in: 40 s left to spend
    now["t"] = 130.0
    assert clock.spent(20) == pytest.approx(0.5)
    assert not clock.over()
    now["t"] = 151.0
    assert clock.over()
    assert BudgetClock(None, 5).spent(100) == 0.0 and not BudgetClock(None, 5).over()


@pytest.mark.parametrize("stop_from", [0.0, 1.0])
def test_early_stopping_waits_for_the_late_part_of_the_cosine(small_twin, stop_from):
    tw = small_twin
    settings = {**TINY, "max_steps": 60, "eval_every": 1, "patience": 1, "ema_decay": 0.0}
    imp = stimpute.Imputer(
        "st_transformer", seed=0, device="cpu", window=12, stop_from=stop_from, **settings
    )
    imp.fit(tw.observed, tw.covariates, tw.static)
    report = imp.method.report
    if stop_from == 0.0:  # one score without progress ends the fit, early in the cosine
        assert report.stopped_by == "early stopping" and report.steps < 45, report
    else:  # the whole cosine runs however the score stalls on the way
        assert report.steps == 60, report
