"""The ablation's report (`benchmarks/ablation_report.py`): table, figure and rows from scored
fits; and `benchmarks/ablation.py`'s refusals to lose them."""

import json
import math

import pytest

from tests.benchmark_scripts import load

ablation = load("ablation")
report = load("ablation_report")
FOREST = load("ablation_variants").FOREST


def _row(variant: str, seed: int, gap: float, model: str = "st_transformer") -> dict:
    peer = model == "saits"  # the PyPOTS peers give no std
    return {
        "model": model,
        "dataset": "twin",
        "protocol": "day",
        "variant": variant,
        "seed": seed,
        "mae": gap + 0.001,
        "truth_mae_all_gaps": gap,
        "coverage50": math.nan if peer else 0.5,
        "coverage90": math.nan if peer else 0.9,
    }


def test_the_report_scores_each_variant_and_draws_every_fit_but_the_peers(tmp_path):
    pytest.importorskip("matplotlib")
    rows = [
        *(_row("paper", s, 0.020 + s / 1000) for s in (0, 1)),
        *(_row("+rain", s, 0.010 + s / 1000) for s in (0, 1)),
        *(_row(FOREST, s, 0.015, "random_forest") for s in (0, 1)),
        _row("saits", 0, 0.1, "saits"),
    ]
    out = tmp_path / "abl"
    report.write(out, rows, 400, None, {})

    md = out.with_suffix(".md").read_text()
    assert "| twin | day | +rain | 2 |  | 0.0115 | 0.0105 | -48.8% | 0.70 |" in md
    assert "![every fit's score by variant](abl.png)" in md
    assert out.with_suffix(".png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(json.loads(out.with_suffix(".json").read_text())["rows"]) == len(rows)
    assert report.panels(rows) == {
        "twin / day: every gap vs truth (MAE)": {
            "paper": [0.020, 0.021],
            "+rain": [0.010, 0.011],
            FOREST: [0.015, 0.015],
        }
    }


def test_no_rows_draw_no_figure(tmp_path):
    from stimpute.bench.plots import strip_figure

    assert strip_figure({}, tmp_path / "none.png") is None
    assert not (tmp_path / "none.png").exists()


def _main(*args):
    ablation.main(["--aqi", "none", *args])


def test_the_rows_come_back_from_the_json_and_a_fresh_run_will_not_overwrite_them(tmp_path):
    out = tmp_path / "abl"
    rows = [_row("paper", 0, 0.02), _row("+rain", 0, math.nan)]
    report.write(out, rows, 400, 150, {"batch_size": 1})
    back = report.saved(out)
    assert [r["variant"] for r in back["rows"]] == ["paper", "+rain"]
    assert math.isnan(back["rows"][1]["truth_mae_all_gaps"])
    assert not list(tmp_path.glob("*.part"))

    before = out.with_suffix(".json").read_bytes()
    with pytest.raises(SystemExit, match="holds 2 rows already: add --resume"):
        _main("--out", str(out))
    with pytest.raises(SystemExit, match=r"measured with \{'steps': 150, 'hparams'"):
        _main("--out", str(out), "--resume")
    assert out.with_suffix(".json").read_bytes() == before

    rows[0]["measured"], rows[1]["measured"] = "2026-12-05T23:59:59", "2026-12-06T02:53:42"
    report.write(out, rows, 400, 150, {"batch_size": 1})
    _main("--out", str(out), "--table")  # redrawn with the settings and the date it names
    assert report.recorded_settings(report.saved(out)) == {
        "budget_s": 400,
        "steps": 150,
        "hparams": {"batch_size": 1},
    }
    md = out.with_suffix(".md").read_text()
    assert "Measured up to 2026-12-06 02:53; " in md
    assert "150 training steps per fit" in md


def test_no_json_no_rows(tmp_path):
    assert report.saved(tmp_path / "none") == {}
    assert report.recorded_settings({}) == {}
