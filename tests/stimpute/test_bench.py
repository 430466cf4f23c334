import json

import numpy as np
import pytest

from stimpute.bench.__main__ import main
from stimpute.bench.datasets import aqi36_problem, twin_problem


def test_twin_problem_hides_only_observed_values():
    p = twin_problem("day", size=12, days=60, seed=1)
    assert p.eval_mask.any()
    assert not np.isnan(p.target[p.eval_mask]).any()
    assert np.isnan(p.values[p.eval_mask]).all()


def test_aqi36_protocol_matches_the_standard_one(shared_dir):
    p = aqi36_problem(shared_dir / "data" / "aqi36")
    assert p.values.shape == (8759, 36) and p.coords is not None and p.coords.shape == (36, 2)
    # eval = present in ground, absent in the missing file, in test months only
    assert np.isnan(p.values[p.eval_mask]).all() and not np.isnan(p.target[p.eval_mask]).any()
    assert p.fit_rows is not None and 0.6 < p.fit_rows.mean() < 0.7
    assert not p.eval_mask[p.fit_rows].any()


def test_cli_writes_json_and_markdown(tmp_path, capsys):
    out = tmp_path / "r.json"
    code = main(
        [
            "--dataset",
            "twin",
            "--protocol",
            "point",
            "--models",
            "mean,linear",
            "--size",
            "12",
            "--days",
            "40",
            "--no-throughput",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    payload = json.loads(out.read_text())
    assert payload["dataset"] == "twin" and payload["protocol"] == "point"
    row = payload["results"][0]
    for key in (
        "model",
        "mae",
        "rmse",
        "mre",
        "coverage90",
        "fit_seconds",
        "impute_seconds",
        "pixel_days_per_second",
    ):
        assert key in row
    # the twin knows its truth and its 9 km cells: every row says how seamy the fill is
    assert all(np.isfinite(row[k]) for k in ("seam_9km_x", "truth_seam_9km_y"))
    assert "| mean |" in out.with_suffix(".md").read_text()
    assert "twin / point" in capsys.readouterr().out


def test_merge_adds_models_to_an_earlier_table_and_refuses_another_problem(tmp_path):
    out = tmp_path / "r.json"
    base = ["--dataset", "twin", "--protocol", "point", "--size", "12", "--days", "40"]
    tail = ["--no-throughput", "--out", str(out), "--merge"]
    assert main([*base, "--models", "mean,linear", *tail]) == 0
    first = {r["model"]: r for r in json.loads(out.read_text())["results"]}
    assert main([*base, "--models", "linear,neighbours", *tail]) == 0
    rows = {r["model"]: r for r in json.loads(out.read_text())["results"]}
    assert sorted(rows) == ["linear", "mean", "neighbours"]
    assert rows["mean"] == first["mean"]  # kept as it was
    assert rows["linear"]["measured"] >= first["linear"]["measured"]
    assert "| neighbours |" in out.with_suffix(".md").read_text()
    # another protocol joins the file; the point table stays
    assert main([*base[:3], "day", *base[4:], "--models", "mean", *tail]) == 0
    tables = json.loads(out.read_text())
    assert [t["protocol"] for t in tables] == ["point", "day"]
    # a different twin is another problem: nothing is overwritten
    before = out.read_text()
    assert main([*base[:-1], "41", "--models", "mean", *tail]) == 2
    assert out.read_text() == before
    # several seeds make a summary beside the tables (seed 1 is another twin, and no reason
    # to refuse: the summary is not merged row by row)
    assert main([*base, "--models", "mean", "--seeds", "0,1", *tail]) == 0
    tables = json.loads(out.read_text())
    assert [("summary" in t, t["protocol"]) for t in tables] == [
        (False, "point"),
        (False, "day"),
        (True, "point"),
    ]


def test_resume_takes_the_rows_a_dead_run_saved_and_fits_only_the_rest(tmp_path, monkeypatch):
    import stimpute.bench.runner as runner

    out = tmp_path / "r.json"
    args = ["--dataset", "twin", "--protocol", "point", "--size", "12", "--days", "40",
            "--models", "mean,linear", "--no-throughput", "--out", str(out)]  # fmt: skip
    real = runner.run_model
    fitted: list[str] = []

    def dies_on_linear(problem, model, **kw):
        if model == "linear":
            raise KeyboardInterrupt  # the run is killed while fitting the second model
        fitted.append(model)
        return real(problem, model, **kw)

    monkeypatch.setattr(runner, "run_model", dies_on_linear)
    with pytest.raises(KeyboardInterrupt):
        main(args)
    saved = out.with_name("r.rows.jsonl")
    assert fitted == ["mean"] and not out.exists()
    assert [json.loads(x)["row"]["model"] for x in saved.read_text().splitlines()] == ["mean"]
    mean_row = json.loads(saved.read_text())["row"]
    with saved.open("a") as fh:
        fh.write('{"dataset": "twin", "prot')  # the line being written when it died

    def counts(problem, model, **kw):
        fitted.append(model)
        return real(problem, model, **kw)

    monkeypatch.setattr(runner, "run_model", counts)
    fitted.clear()
    assert main([*args[:5], "13", *args[6:], "--resume"]) == 0  # another twin: nothing reused
    assert fitted == ["mean", "linear"]
    out.unlink()
    saved.write_text(
        json.dumps(
            {
                "dataset": "twin",
                "protocol": "point",
                "seed": 0,
                "info": {},
                "st_time_budget_s": 400.0,
                "row": mean_row,
            }
        )
        + "\n"
    )
    fitted.clear()
    assert main([*args, "--resume"]) == 0  # a saved row of another problem is not taken
    assert fitted == ["mean", "linear"]
    # the saved row of this very problem is taken as it was, and only linear is fitted
    out.unlink()
    fitted.clear()
    monkeypatch.setattr(runner, "run_model", dies_on_linear)
    with pytest.raises(KeyboardInterrupt):
        main(args)
    monkeypatch.setattr(runner, "run_model", counts)
    fitted.clear()
    assert main([*args, "--resume"]) == 0
    assert fitted == ["linear"]
    rows = {r["model"]: r for r in json.loads(out.read_text())["results"]}
    assert sorted(rows) == ["linear", "mean"] and not saved.exists()


def test_seeds_are_summarised_as_mean_and_spread():
    from stimpute.bench.runner import aggregate, markdown_seeds

    def run(seed, mae):
        row = {"model": "psan", "mae": mae, "rmse": 2 * mae, "coverage50": 0.5, "coverage90": 0.9,
               "fit_seconds": 1.0, "impute_seconds": 0.1}  # fmt: skip
        return {"dataset": "aqi36", "protocol": "native", "seed": seed, "results": [row]}

    agg = aggregate([run(0, 10.0), run(1, 12.0), run(2, 14.0)])
    (row,) = agg["summary"]
    assert row["mae_mean"] == pytest.approx(12.0) and row["mae_std"] == pytest.approx(2.0)
    assert "12.0000 ± 2.0000" in markdown_seeds(agg)


def test_pypots_peer_fills_gaps_and_keeps_observed_values():
    pytest.importorskip("pypots")
    from stimpute.bench.peers import fill

    rng = np.random.default_rng(0)
    t = np.arange(96)[:, None]
    values = (np.sin(t / 8 + np.arange(5)[None]) + 2).astype(np.float32)
    values[rng.random(values.shape) < 0.3] = np.nan
    filled, fit_s, _ = fill("brits", values, values, n_steps=24, seed=0, time_budget_s=2.0)
    ok = np.isfinite(values)
    assert np.isfinite(filled).all() and np.array_equal(filled[ok], values[ok]) and fit_s > 0


def test_a_peer_trains_what_the_time_left_holds_or_to_the_cap_without_a_budget():
    from stimpute.bench.peers import MAX_EPOCHS, next_epochs

    assert next_epochs(390.0, 10.0, 1) == 39
    assert next_epochs(5.0, 10.0, 40) == 0  # not one more epoch fits: training stops
    assert next_epochs(-3.0, 10.0, 40) == 0  # past the budget
    assert next_epochs(400.0, 0.1, 1) == 4000  # the budget binds, not an epoch cap
    assert next_epochs(None, 10.0, 1) == MAX_EPOCHS - 1  # no budget: no silent 60 s either


@pytest.mark.parametrize("blocked", ["pypots", "pypots.utils.logging"])  # missing; broken
def test_a_missing_or_broken_pypots_is_one_clear_error(monkeypatch, blocked):
    import sys

    from stimpute.bench import peers
    from stimpute.errors import StimputeError

    for cached in [m for m in sys.modules if m.split(".")[0] == "pypots"]:
        monkeypatch.delitem(sys.modules, cached)  # imported by an earlier test: import it anew
    monkeypatch.setitem(sys.modules, blocked, None)  # the import of it fails
    with pytest.raises(StimputeError, match=r"^saits needs PyPOTS.*pip install -e '\.\[peers\]'"):
        peers.fill("saits", np.zeros((8, 2), np.float32), np.zeros((8, 2), np.float32),
                   n_steps=4, seed=0, time_budget_s=1.0)  # fmt: skip


def test_sparsity_curve_thins_a_daily_twin_to_each_share(tmp_path):
    out = tmp_path / "s.json"
    argv = ["--dataset", "twin", "--sparsity", "0.5,0.1", "--models", "linear,mean",
            "--size", "8", "--days", "40", "--no-throughput", "--out", str(out)]  # fmt: skip
    assert main(argv) == 0
    (result,) = [json.loads(out.read_text())]
    shares = [c["info"]["observed_share"] for c in result["curve"]]
    assert shares[0] == pytest.approx(0.5, abs=0.05)  # before 20% of them are hidden for scoring
    assert shares[1] == pytest.approx(0.1, abs=0.03)
    assert "10% observed" in out.with_suffix(".md").read_text()


def test_the_twin_problem_hands_the_rain_before_it_to_the_network(monkeypatch):
    from stimpute.bench import runner
    from stimpute.imputer import Imputer

    p = twin_problem("day", size=12, days=40, seed=1, family="convective")
    assert p.rain_before is not None and p.rain_before.shape[1:] == (12, 12)
    seen: dict[str, object] = {}
    real_fit, real_impute = Imputer.fit, Imputer.impute

    def fit(self, *a, **kw):
        seen["fit"] = kw.get("rain_before")
        return real_fit(self, *a, **kw)

    def impute(self, *a, **kw):
        seen["impute"] = kw.get("rain_before")
        return real_impute(self, *a, **kw)

    monkeypatch.setattr(Imputer, "fit", fit)
    monkeypatch.setattr(Imputer, "impute", impute)
    small = {"dim": 8, "layers": 1, "heads": 2, "window": 12, "tile": 6, "max_steps": 2}
    runner.run_model(p, "st_transformer", seed=0, time_budget_s=None, st_hparams=small)
    assert seen["fit"] is p.rain_before and seen["impute"] is p.rain_before
    # a baseline is given none
    runner.run_model(p, "linear", seed=0, time_budget_s=None, st_hparams={})
    assert seen["fit"] is None and seen["impute"] is None
