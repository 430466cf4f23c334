"""Pictures of benchmark runs: a map of one day and a pixel's series, reliability, the sparsity
curve, and per-seed scores side by side (needs matplotlib)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stimpute.bench.datasets import Problem
from stimpute.bench.peers import PEERS
from stimpute.bench.runner import NEURAL
from stimpute.imputer import ImputeResult
from stimpute.metrics import Z90, coverage


def _pyplot() -> Any:
    """matplotlib's pyplot on its file-only backend (Agg), or None where matplotlib is missing
    (it comes with the `bench` extra)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    return plt


def twin_figure(
    problem: Problem, results: dict[str, ImputeResult], path: Path, *, models: tuple[str, str]
) -> Path | None:
    """Truth / input / two models' fills on the day with the most eval values, and one pixel's
    series with observations, held-out values, fills and the 90% band. None without matplotlib."""
    plt = _pyplot()
    if plt is None:
        return None
    shown = [m for m in models if m in results]
    if problem.truth is None or not shown:
        return None
    day = int(problem.eval_mask.reshape(problem.eval_mask.shape[0], -1).sum(axis=1).argmax())
    panels = [("truth", problem.truth[day]), ("input (gaps white)", problem.values[day])]
    panels += [(f"{m} fill", results[m].values[day]) for m in shown]
    fig = plt.figure(figsize=(4 * len(panels), 7.5), layout="constrained")
    grid = fig.add_gridspec(2, len(panels), height_ratios=[1, 0.9])
    for i, (title, field) in enumerate(panels):
        ax = fig.add_subplot(grid[0, i])
        im = ax.imshow(field, vmin=0.0, vmax=0.5, cmap="YlGnBu")
        ax.set_title(f"{title}\nday {day}")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.colorbar(im, ax=fig.axes, shrink=0.6, label="soil moisture (m³/m³)")
    flat_eval = problem.eval_mask.reshape(problem.eval_mask.shape[0], -1)
    pixel = int(flat_eval.sum(axis=0).argmax())
    series = fig.add_subplot(grid[1, :])
    t = np.arange(problem.values.shape[0])

    def col(a: np.ndarray) -> np.ndarray:
        return a.reshape(a.shape[0], -1)[:, pixel]

    series.plot(t, col(problem.truth), color="0.6", lw=1, label="truth (twin)")
    colours = ("tab:red", "tab:blue")
    for name, colour in zip(shown, colours, strict=False):
        res = results[name]
        mean, std = col(res.values), col(res.std)
        series.plot(t, mean, color=colour, lw=1.2, label=f"{name}")
        series.fill_between(t, mean - Z90 * std, mean + Z90 * std, color=colour, alpha=0.15, lw=0)
    vis = col(problem.values)
    held = np.where(col(problem.eval_mask), col(problem.target), np.nan)
    series.plot(t, vis, "o", color="k", ms=4, label="observed (input)")
    series.plot(t, held, "x", color="tab:orange", ms=7, mew=2, label="held out (scored)")
    series.set_xlabel("day")
    series.set_ylabel("m³/m³")
    series.set_title(f"pixel {pixel}: fills with 90% bands ({problem.protocol} protocol)")
    series.legend(ncol=6, fontsize=8, loc="upper right")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def reliability_figure(
    problem: Problem, results: dict[str, ImputeResult], path: Path
) -> Path | None:
    """Observed against nominal coverage of the held-out values for each model with a std."""
    plt = _pyplot()
    if plt is None:
        return None
    if not results:
        return None
    levels = np.linspace(0.1, 0.95, 18)
    fig, ax = plt.subplots(figsize=(4.6, 4.4), constrained_layout=True)
    ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--", label="perfect")
    ax.fill_between(
        [0, 1], [-0.05, 0.95], [0.05, 1.05], color="grey", alpha=0.15, label="±5 points"
    )
    for name, res in results.items():
        cov = [
            coverage(res.values, res.std, problem.target, problem.eval_mask, level=lv)
            for lv in levels
        ]
        ax.plot(levels, cov, marker="o", ms=3, label=name)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("nominal coverage of the interval")
    ax.set_ylabel("share of held-out values inside")
    ax.set_title(f"{problem.name} / {problem.protocol}: reliability")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def sparsity_figure(curve: list[dict], path: Path) -> Path | None:
    """MAE against the observed share, one line per model."""
    plt = _pyplot()
    if plt is None:
        return None
    shares = [100 * c["observed_share"] for c in curve]
    fig, ax = plt.subplots(figsize=(6.5, 4.5), constrained_layout=True)
    tab20 = plt.get_cmap("tab20")(np.arange(20))  # pairs of a dark and a light shade of one hue
    colours = [*tab20[::2], *tab20[1::2]]  # the ten dark ones first
    for i, model in enumerate(r["model"] for r in curve[0]["results"]):
        maes = [next(r["mae"] for r in c["results"] if r["model"] == model) for c in curve]
        # ours solid and thick, the PyPOTS peers dashed, the baselines dotted
        style = "-" if model in NEURAL else "--" if model in PEERS else ":"
        ax.plot(shares, maes, style, marker="o", color=colours[i % 20],
                linewidth=2.2 if model in NEURAL else 1.3, label=model)  # fmt: skip
    ax.set_xscale("log")
    ax.set_xticks(shares, [f"{s:g}" for s in shares])
    ax.minorticks_off()
    ax.set_xlabel("observed share of pixel-days (%)")
    ax.set_ylabel("MAE on held-out values (m³/m³)")
    ax.set_title("twin / point: sparsity curve")
    ax.legend(fontsize=8, ncol=2)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def strip_figure(panels: dict[str, dict[str, list[float]]], path: Path) -> Path | None:
    """One panel per problem (its title names the score): each label's scores, one per seed, as
    dots and their mean as a bar, in the order given; lower is better. None without matplotlib."""
    plt = _pyplot() if panels else None
    if plt is None:
        return None
    cols = min(3, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(
        rows, cols, figsize=(5.2 * cols, 4.2 * rows), squeeze=False, layout="constrained"
    )
    for ax, (title, scores) in zip(axes.flat, panels.items(), strict=False):
        labels = list(scores)
        ax.bar(range(len(labels)), [float(np.mean(scores[k])) for k in labels], color="#c6dbef")
        for i, k in enumerate(labels):
            ax.plot([i] * len(scores[k]), scores[k], "o", color="#08519c", markersize=3.5)
        ax.set_xticks(range(len(labels)), labels, rotation=35, ha="right", fontsize=8)
        ax.set_title(title, fontsize=10)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
