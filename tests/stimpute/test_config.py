"""Typed configuration: one definition, keyword shortcuts routed to their section, stored in the
checkpoint, unknown names refused with the allowed ones."""

import numpy as np
import pytest
import torch

import stimpute
from stimpute.config import InferConfig, ModelConfig, NeuralConfig, TrainConfig
from stimpute.errors import CheckpointError, ConfigError
from tests.conftest import TINY


def test_shortcuts_land_in_their_sections_and_the_window_is_one():
    cfg = NeuralConfig.build(dim=32, lr=2e-3, infer_tile=44, window=48, hide_modes=["day"])
    assert cfg.model.dim == 32 and cfg.train.lr == 2e-3 and cfg.infer.infer_tile == 44
    assert cfg.window == 48 and cfg.train.window == 48
    assert cfg.train.hide_modes == ("day",)
    assert cfg.model.heads == ModelConfig().heads  # the rest keep their one default
    on_top = NeuralConfig.build(NeuralConfig(model=ModelConfig(dim=16, heads=2)), lr=1e-2)
    assert on_top.model.dim == 16 and on_top.train.lr == 1e-2


def test_an_unknown_name_lists_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"unknown setting\(s\) \['dimm'\]; allowed: .*\bdim\b"):
        stimpute.Imputer("st_transformer", dimm=32)


@pytest.mark.parametrize(
    ("kw", "says"),
    [
        ({"window": 24, "time_overlap": 24}, "time_overlap=24 days: pass 0 to 23"),
        ({"dim": 30, "heads": 4}, r"dim \(30\) must be divisible by heads \(4\)"),
        ({"hide_modes": ("day", "rain")}, r"hide_modes \['rain'\]"),
        ({"window": 1}, "window=1: give at least 2"),
        ({"stop_from": 1.5}, "stop_from=1.5: give a share of the learning-rate cosine"),
    ],
)
def test_impossible_settings_are_refused_when_built(kw, says):
    with pytest.raises(ConfigError, match=says):
        NeuralConfig.build(**kw)


def test_a_baseline_takes_no_neural_config():
    with pytest.raises(ConfigError, match="mean is a baseline"):
        stimpute.Imputer("mean", config=NeuralConfig())


def test_psan_keeps_its_own_depth_unless_told():
    assert stimpute.Imputer("psan").config.model.layers == 3
    assert stimpute.Imputer("psan", layers=2).config.model.layers == 2
    assert stimpute.Imputer("st_transformer").config.model.layers == 4


def _fitted(small_twin):
    tw = small_twin
    imp = stimpute.Imputer("st_transformer", seed=0, device="cpu", window=12, **TINY)
    return imp.fit(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)


def test_the_checkpoint_keeps_the_configuration(small_twin, tmp_path):
    imp = _fitted(small_twin)
    back = stimpute.Imputer.load(imp.save(tmp_path / "m.pt"), device="cpu")
    assert back.config == imp.config
    assert isinstance(back.config.infer, InferConfig) and isinstance(back.config.train, TrainConfig)


def test_a_checkpoint_saved_with_flat_names_still_loads(small_twin, tmp_path):
    tw = small_twin
    imp = _fitted(small_twin)
    path = imp.save(tmp_path / "m.pt")
    payload = torch.load(path, weights_only=True)
    payload["hparams"] = {k: v for k, v in TINY.items()}  # as saved before NeuralConfig
    payload["window"] = 12
    del payload["config"]
    torch.save(payload, path)
    back = stimpute.Imputer.load(path, device="cpu")
    assert back.config == imp.config
    a = imp.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year).values
    b = back.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year).values
    assert np.array_equal(a, b)


def test_inference_settings_change_after_fitting_and_nothing_else_does(small_twin):
    imp = _fitted(small_twin)
    imp.set_inference(infer_tile=6, tile_overlap=2)
    assert imp.config.infer.infer_tile == 6 and imp.method.config.infer.tile_overlap == 2
    tw = small_twin
    res = imp.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    assert np.isfinite(res.values).all()
    with pytest.raises(ConfigError, match=r"set_inference takes .*; got \['lr'\]"):
        imp.set_inference(lr=0.1)


def test_the_paper_preset_builds_the_network_with_no_add_on(small_twin):
    tw = small_twin
    cfg = NeuralConfig.paper(window=12, **{k: v for k, v in TINY.items() if k != "max_steps"})
    imp = stimpute.Imputer("st_transformer", config=cfg, device="cpu", max_steps=3)
    imp.fit(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    net = imp.method.model
    assert not net.cfg.temporal_context and imp.method.config.model.prior_covariate is None
    assert all(r.context is None for r in net.readouts)
    assert len(net.readouts) == cfg.model.layers  # a readout per layer, as in the paper
    res = imp.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    assert np.isfinite(res.values).all()


def test_a_checkpoint_needing_a_retired_add_on_is_refused_in_one_line(small_twin, tmp_path):
    tw = small_twin
    imp = stimpute.Imputer("st_transformer", window=12, device="cpu", **TINY)
    imp.fit(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
    imp.save(tmp_path / "m.pt")
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    for switch, on in (("regime_blend", False), ("regime_readout", True)):
        payload["state"]["arch"] = {**payload["state"]["arch"], switch: on}
        payload["config"]["model"][switch] = "auto"  # as checkpoints of that version stored it
        torch.save(payload, tmp_path / f"{switch}.pt")
        if on:  # fitted with it on: its weights need it
            with pytest.raises(
                CheckpointError, match="fitted with regime_readout.*fit the imputer again"
            ):
                stimpute.Imputer.load(tmp_path / f"{switch}.pt")
        else:  # off: the checkpoint loads as it was
            back = stimpute.Imputer.load(tmp_path / f"{switch}.pt")
            res = back.impute(tw.observed, tw.covariates, tw.static, times=tw.day_of_year)
            assert np.isfinite(res.values).all()
