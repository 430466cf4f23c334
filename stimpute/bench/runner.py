"""Fit and score each model on one Problem; format the results as a Markdown table."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from stimpute import metrics
from stimpute.bench import peers
from stimpute.bench.datasets import Problem
from stimpute.errors import StimputeError
from stimpute.imputer import NEURAL, Imputer, ImputeResult

log = logging.getLogger("stimpute")


def _rows(a: np.ndarray | None, rows: np.ndarray | None) -> np.ndarray | None:
    return a if a is None or rows is None else a[rows]


def _fill(
    problem: Problem, model: str, seed: int, time_budget_s: float | None, st_hparams: dict[str, Any]
) -> tuple[ImputeResult, float, Any]:
    """(result, fit seconds, training report) of one model on the problem's fit rows."""
    rows = problem.fit_rows
    if model in peers.PEERS:
        flat = problem.values.reshape(len(problem.values), -1)
        fit = flat if rows is None else flat[rows]
        window = int(problem.st_hparams.get("window", 72))
        filled, fit_s, imp_s = peers.fill(
            model, fit, flat, n_steps=window, seed=seed, time_budget_s=time_budget_s
        )
        nan = np.full(problem.values.shape, np.nan, np.float32)
        return ImputeResult(filled.reshape(problem.values.shape), nan, imp_s), fit_s, None
    kw: dict[str, Any] = {}
    if model in NEURAL:
        kw = {**st_hparams, **problem.st_hparams}
    imp = Imputer(model, seed=seed, **kw)
    # the rain before the record precedes its first step: fits on a subset of rows go without
    rain_before = problem.rain_before if kw.get("rain_covariate") is not None else None
    imp.fit(
        _rows(problem.values, rows),
        _rows(problem.covariates, rows),
        problem.static,
        problem.coords,
        times=_rows(problem.times, rows),
        time_budget_s=time_budget_s if model in NEURAL else None,
        rain_before=rain_before if rows is None else None,
    )
    res = imp.impute(
        problem.values,
        problem.covariates,
        problem.static,
        problem.coords,
        times=problem.times,
        rain_before=rain_before,
    )
    return res, imp.fit_seconds, getattr(imp.method, "report", None)


def run_model(
    problem: Problem,
    model: str,
    *,
    seed: int,
    time_budget_s: float | None,
    st_hparams: dict[str, Any],
    keep: dict[str, ImputeResult] | None = None,
) -> dict[str, Any]:
    """Fit on the problem's fit rows, impute the whole input, score on the eval mask."""
    log.info("%s / %s / %s: fitting", problem.name, problem.protocol, model)
    res, fit_seconds, report = _fill(problem, model, seed, time_budget_s, st_hparams)
    if keep is not None:
        keep[model] = res
    has_std = bool(np.isfinite(res.std).any())
    m = metrics.summary(
        res.values, problem.target, problem.eval_mask, std=res.std if has_std else None
    )
    out: dict[str, Any] = {
        "model": model,
        "mae": m["mae"],
        "rmse": m["rmse"],
        "mre": m["mre"],
        "bias": m["bias"],
        "ubrmse": m["ubrmse"],
        "r": m["r"],
        "coverage50": m.get("coverage50", math.nan),
        "coverage90": m.get("coverage90", math.nan),
        "fit_seconds": fit_seconds,
        "impute_seconds": res.seconds,
        "pixel_days_per_second": problem.values.size / res.seconds if res.seconds > 0 else math.inf,
    }
    if problem.truth is not None:
        gaps = np.isnan(problem.values)
        out["truth_mae_eval"] = metrics.mae(res.values, problem.truth, problem.eval_mask)
        out["truth_mae_all_gaps"] = metrics.mae(res.values, problem.truth, gaps)
        if "coarse_cell" in problem.info and problem.values.ndim == 3:
            cell = int(problem.info["coarse_cell"])
            for prefix, field in (("", res.values), ("truth_", problem.truth)):
                x, y = metrics.cell_seam_ratio(field, gaps, cell)
                out[f"{prefix}seam_9km_x"], out[f"{prefix}seam_9km_y"] = x, y
    out["measured"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    if report is not None:
        out["train_steps"] = report.steps
        out["stopped_by"] = report.stopped_by
        out["std_scale"] = report.std_scale
    log.info(
        "%s / %s / %s: MAE %.4f (fit %.0fs, impute %.1fs)",
        problem.name,
        problem.protocol,
        model,
        out["mae"],
        out["fit_seconds"],
        out["impute_seconds"],
    )
    return out


def markdown_table(result: dict[str, Any]) -> str:
    """One protocol's results as a Markdown table, best MAE in bold."""
    rows = result["results"]
    has_truth = any("truth_mae_all_gaps" in r for r in rows)
    head = ["model", "MAE", "RMSE", "MRE", "cov90", "fit s", "impute s", "pixel-days/s"]
    if has_truth:
        head[4:4] = ["MAE vs truth (eval)", "MAE vs truth (all gaps)"]
    best = min(r["mae"] for r in rows)
    lines = [
        f"### {result['dataset']} / {result['protocol']}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for r in rows:
        mae = f"**{r['mae']:.4f}**" if r["mae"] == best else f"{r['mae']:.4f}"
        cells = [r["model"], mae, f"{r['rmse']:.4f}", f"{r['mre']:.4f}"]
        if has_truth:
            cells += [
                f"{r.get('truth_mae_eval', math.nan):.4f}",
                f"{r.get('truth_mae_all_gaps', math.nan):.4f}",
            ]
        cells += [
            f"{r['coverage90']:.2f}",
            f"{r['fit_seconds']:.1f}",
            f"{r['impute_seconds']:.1f}",
            f"{r['pixel_days_per_second']:,.0f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def run(
    problem: Problem,
    models: list[str],
    *,
    seed: int,
    time_budget_s: float | None,
    st_hparams: dict[str, Any],
    keep: dict[str, ImputeResult] | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
    done: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Every model on the same problem; their filled arrays go into `keep` when given, and
    each model's row goes to `on_row` as soon as it is scored. Models in `done` (rows an
    interrupted run already scored on this problem) are taken as they are, not fitted again."""
    start = time.perf_counter()
    results = []
    for m in models:
        if done and m in done:
            log.info("%s / %s / %s: scored by the interrupted run at %s, kept",
                     problem.name, problem.protocol, m, done[m].get("measured"))  # fmt: skip
            results.append(done[m])
            continue
        row = run_model(
            problem, m, seed=seed, time_budget_s=time_budget_s, st_hparams=st_hparams, keep=keep
        )
        results.append(row)
        if on_row is not None:
            on_row(row)
    return {
        "dataset": problem.name,
        "protocol": problem.protocol,
        "seed": seed,
        "info": problem.info,
        "st_hparams": {**st_hparams, **problem.st_hparams},
        "st_time_budget_s": time_budget_s,
        "results": results,
        "seconds": time.perf_counter() - start,
    }


def plain(x: Any) -> Any:
    """`x` as it reads back from JSON (tuples to lists, numpy numbers to floats), so that what
    a file holds compares equal to what a fresh run has."""
    return json.loads(json.dumps(x, default=float))


def check_merge(old: Any, dataset: str, protocol: str, info: dict[str, Any]) -> None:
    """Raise unless the earlier file's table for (dataset, protocol), if any, is on the same
    problem; called before fitting, so a refused --merge costs nothing."""
    tables = [o for o in (old if isinstance(old, list) else [old]) if "results" in o]
    for o in tables:
        same = (o.get("dataset"), o.get("protocol")) == (dataset, protocol)
        if same and plain(o.get("info")) != plain(info):
            raise StimputeError(
                f"{dataset} / {protocol}: the earlier results were on another problem "
                "(shape, seed or hidden values differ); write to a new --out instead"
            )


def merge(old: Any, new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """New single-run outputs laid over an earlier file's: rows of the models run now replace
    theirs, the others are kept (each row carries when it was `measured`), so models can be
    added to a table one run at a time on the same problem. Tables of other protocols stay;
    sweeps and seed summaries are replaced whole."""
    merged = [o for o in (old if isinstance(old, list) else [old]) if "results" in o]
    where = {(o.get("dataset"), o.get("protocol")): i for i, o in enumerate(merged)}
    for out in new:
        i = where.get((out.get("dataset"), out.get("protocol")))
        if i is None or "results" not in out:
            merged.append(out)
            continue
        before = merged[i]
        check_merge(before, out["dataset"], out["protocol"], out.get("info", {}))
        ran = {r["model"] for r in out["results"]}
        kept = [r for r in before["results"] if r["model"] not in ran]
        merged[i] = {**before, **out, "results": kept + out["results"]}
    return merged


def aggregate(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Several seeds of one protocol: mean and standard deviation of each model's metrics."""
    models = [r["model"] for r in runs[0]["results"]]
    rows = []
    for model in models:
        per = [next(r for r in run["results"] if r["model"] == model) for run in runs]
        row: dict[str, Any] = {"model": model, "seeds": [run["seed"] for run in runs]}
        for key in ("mae", "rmse", "coverage50", "coverage90", "fit_seconds", "impute_seconds"):
            vals = np.array([p[key] for p in per], dtype=np.float64)
            row[f"{key}_mean"] = float(np.mean(vals))
            row[f"{key}_std"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
        rows.append(row)
    return {
        "dataset": runs[0]["dataset"],
        "protocol": runs[0]["protocol"],
        "summary": rows,
        "runs": runs,
    }


def markdown_seeds(result: dict[str, Any]) -> str:
    rows = result["summary"]
    best = min(r["mae_mean"] for r in rows)
    n = len(rows[0]["seeds"])
    lines = [
        f"### {result['dataset']} / {result['protocol']}: {n} seeds, mean ± standard deviation",
        "",
        "| model | MAE | RMSE | in 50% interval | in 90% interval | fit s | impute s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        mae = f"{r['mae_mean']:.4f} ± {r['mae_std']:.4f}"
        lines.append(
            "| "
            + " | ".join(
                [
                    r["model"],
                    f"**{mae}**" if r["mae_mean"] == best else mae,
                    f"{r['rmse_mean']:.4f} ± {r['rmse_std']:.4f}",
                    f"{r['coverage50_mean']:.2f}",
                    f"{r['coverage90_mean']:.2f}",
                    f"{r['fit_seconds_mean']:.0f}",
                    f"{r['impute_seconds_mean']:.1f}",
                ]
            )
            + " |"
        )
    return "\n".join(lines)


def markdown_sparsity(result: dict[str, Any]) -> str:
    """MAE of each model (rows) at each observed share (columns)."""
    curve = result["curve"]
    shares = [c["observed_share"] for c in curve]
    models = [r["model"] for r in curve[0]["results"]]
    lines = [
        "### twin / point at decreasing observed shares (MAE, m3/m3)",
        "",
        "| model | " + " | ".join(f"{100 * s:g}% observed" for s in shares) + " |",
        "|---|" + "---|" * len(shares),
    ]
    for m in models:
        maes = [next(r["mae"] for r in c["results"] if r["model"] == m) for c in curve]
        lines.append(f"| {m} | " + " | ".join(f"{v:.4f}" for v in maes) + " |")
    return "\n".join(lines)
