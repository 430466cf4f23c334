"""The ablation's report: the table (`<out>.md`), its figure (`<out>.png`) and every row with
the settings it was measured with (`<out>.json`, rewritten atomically after every row)."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path
from typing import Any

from ablation_variants import ADD_ON_PAIRS, FOREST, KEEP, VARIANTS, order

from pipeline.files import write_text
from stimpute.bench.plots import strip_figure


def paired_change(rows: list[dict[str, Any]], ref: list[dict[str, Any]], key: str) -> float | None:
    """The relative change of the mean of `key` from `ref`'s, over the seeds both have (None
    when they share none): a variant with five seeds is not compared with a reference that has
    one."""
    mine = {r["seed"]: r[key] for r in rows if r.get(key) is not None}
    theirs = {r["seed"]: r[key] for r in ref if r.get(key) is not None}
    seeds = sorted(set(mine) & set(theirs))
    if not seeds:
        return None
    return statistics.mean(mine[s] for s in seeds) / statistics.mean(theirs[s] for s in seeds) - 1


def score_key(rows: list[dict[str, Any]]) -> str:
    """What the rows are judged on: the MAE against the truth on every gap where the data set
    knows it (the twins), else the held-out MAE (AQI-36)."""
    return (
        "truth_mae_all_gaps"
        if all(r.get("truth_mae_all_gaps") is not None for r in rows)
        else "mae"
    )


def off_coverage(r: dict[str, Any]) -> bool:
    """Whether a fit's 50% or 90% interval coverage is more than 5 points from nominal."""
    return abs(r["coverage50"] - 0.5) > 0.05 or abs(r["coverage90"] - 0.9) > 0.05


def steps(rows: list[dict[str, Any]]) -> str:
    """The fits' training steps, min-max (a time budget buys more steps on a faster machine)."""
    n = [int(r["train_steps"]) for r in rows if "train_steps" in r]
    return "" if not n else f"{min(n):,}" if min(n) == max(n) else f"{min(n):,}-{max(n):,}"


def seams(rows: list[dict[str, Any]]) -> str:
    """The mean 9 km seam ratios x / y of the fits that measured them, the truth's on the same
    pixels in brackets, and how many fits that is when not all."""
    rs = [r for r in rows if "seam_9km_x" in r]
    if not rs:
        return ""

    def mean(k: str) -> float:
        return statistics.mean(r[k] for r in rs)

    text = f"{mean('seam_9km_x'):.2f} / {mean('seam_9km_y'):.2f} "
    text += f"({mean('truth_seam_9km_x'):.2f} / {mean('truth_seam_9km_y'):.2f})"
    return text + ("" if len(rs) == len(rows) else f", {len(rs)} of {len(rows)} fits")


def _pct(x: float | None) -> str:
    return "" if x is None else f"{100 * x:+.1f}%"


Groups = dict[tuple[str, str, str], list[dict[str, Any]]]


def table(rows: list[dict[str, Any]]) -> str:
    """Mean over seeds per (dataset, protocol, variant), with the change against the paper's
    network and the ratio to the random forest's, each over the seeds both have."""
    groups: Groups = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["protocol"], r["variant"]), []).append(r)
    lines = [
        "| dataset | protocol | variant | seeds | steps | held-out MAE | every gap vs truth | "
        "vs paper | vs forest | cov50 / cov90 | fits off coverage | 9 km seams x / y (truth's) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, protocol, variant), rs in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1], order(kv[0][2]))
    ):
        key = score_key(rs)
        gaps = [r["truth_mae_all_gaps"] for r in rs] if key != "mae" else None
        forest = groups.get((dataset, protocol, FOREST)) or groups.get(
            (dataset, protocol, "random_forest"), []
        )
        wood = paired_change(rs, forest, key)
        # only the network's variants change the paper's network; a peer or the forest does not
        paper = groups.get((dataset, protocol, "paper"), []) if variant in VARIANTS else []
        c50, c90 = (statistics.mean(r[k] for r in rs) for k in ("coverage50", "coverage90"))
        has_std = not (math.isnan(c50) or math.isnan(c90))  # the PyPOTS peers give no std
        cov, off = (f"{c50:.2f} / {c90:.2f}", f"{sum(map(off_coverage, rs))} of {len(rs)}")
        lines.append(
            f"| {dataset} | {protocol} | {variant} | {len(rs)} | {steps(rs)} | "
            f"{statistics.mean(r['mae'] for r in rs):.4f} | "
            f"{'' if gaps is None else f'{statistics.mean(gaps):.4f}'} | "
            f"{_pct(paired_change(rs, paper, key))} | "
            f"{'' if wood is None else f'{1 + wood:.2f}'} | {cov if has_std else ''} | "
            f"{off if has_std else ''} | {seams(rs)} |"
        )
    return "\n".join(lines) + "\n\n" + verdicts(groups)


def panels(rows: list[dict[str, Any]]) -> dict[str, dict[str, list[float]]]:
    """Per problem, each of the network's variants and the forest with its fits' scores, for
    the figure; the PyPOTS peers stay in the table (their MAE, several times the others',
    would flatten every other bar)."""
    shown = [*VARIANTS, FOREST, "random_forest"]
    problems: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        if r["variant"] in shown:
            problems.setdefault((r["dataset"], r["protocol"]), []).append(r)
    out: dict[str, dict[str, list[float]]] = {}
    for (dataset, protocol), rs in sorted(problems.items()):
        key = score_key(rs)
        name = "held-out MAE" if key == "mae" else "every gap vs truth (MAE)"
        scores = out.setdefault(f"{dataset} / {protocol}: {name}", {})
        for r in sorted(rs, key=lambda r: order(r["variant"])):
            scores.setdefault(r["variant"], []).append(r[key])
    return out


def verdicts(groups: Groups) -> str:
    """Per add-on and problem, the change it makes added alone to the paper's network and added
    to the rest of the shipped mix, over the seeds both rows have; and whether it lowers the
    MAE by at least 2% anywhere."""
    problems = sorted({(d, p) for d, p, _ in groups})
    head = " | ".join(f"{d} {p}: alone / in the mix" for d, p in problems)
    lines = [f"| add-on | {head} | earns its place (2%) |", "|---" * (len(problems) + 2) + "|"]
    for add_on, pairs in ADD_ON_PAIRS.items():
        cells, best = [], []
        for d, p in problems:
            changes = []
            for with_it, without in pairs:
                a, b = groups.get((d, p, with_it), []), groups.get((d, p, without), [])
                change = paired_change(a, b, score_key(a + b)) if a and b else None
                changes.append(change)
                best += [] if change is None else [change]
            cells.append(" / ".join(_pct(c) or "-" for c in changes))
        verdict = (
            ""
            if not best
            else ("yes" if min(best) <= KEEP else "no") + f" (best {_pct(min(best))})"
        )
        lines.append(f"| {add_on} | {' | '.join(cells)} | {verdict} |")
    return "\n".join(lines)


def last_measured(rows: list[dict[str, Any]]) -> str:
    """The header's "Measured up to <when the newest row was scored>; " (each row carries its
    `measured` time on the runner's clock), so a redraw of old rows keeps their date; "" when
    no row says."""
    stamps = [str(r["measured"]) for r in rows if r.get("measured")]
    return f"Measured up to {max(stamps)[:16].replace('T', ' ')}; " if stamps else ""


def write(
    out: Path, rows: list[dict[str, Any]], budget: float, steps: int | None, extra: dict[str, Any]
) -> str:
    """The table (`<out>.md`), its figure (`<out>.png`) and every row (`<out>.json`) as they
    stand; the table's text."""
    spent = (
        f"{budget:.0f} s of training per fit"
        if steps is None
        else f"{steps} training steps per fit (fewer where early stopping ended it)"
    )
    text = table(rows)
    figure = strip_figure(panels(rows), out.with_suffix(".png"))
    picture = "" if figure is None else f"\n![every fit's score by variant]({figure.name})\n"
    if extra:
        spent += f", with {json.dumps(extra)} for every network"
    out.with_suffix(".md").write_text(
        f"# Ablation of the ST-Transformer's add-ons\n\n{last_measured(rows)}"
        f"`python benchmarks/ablation.py`, {spent}, small model. 'vs paper': the change a "
        "variant of the network makes to the every-gap MAE against the truth (held-out MAE on "
        "AQI-36) from the paper's network; "
        "'vs forest': the ratio to the random forest's on the same problems.\n\n"
        + text
        + "\n"
        + picture
    )
    write_text(
        out.with_suffix(".json"),
        json.dumps(
            {"budget_s": budget, "steps": steps, "hparams": extra, "rows": rows},
            indent=1,
            default=float,
        ),
    )
    return text


def saved(out: Path) -> dict[str, Any]:
    """What a run wrote to `<out>.json` (its rows and the settings they were measured with:
    `budget_s`, `steps`, `hparams`); {} when there is none."""
    path = out.with_suffix(".json")
    return dict(json.loads(path.read_text())) if path.is_file() else {}


def recorded_settings(record: dict[str, Any]) -> dict[str, Any]:
    """The settings (`budget_s`, `steps`, `hparams`) a saved record names: `steps` None is a
    timed run; a `budget_s` or `hparams` of None was not recorded (older runs)."""
    return {
        k: record[k]
        for k in ("budget_s", "steps", "hparams")
        if k in record and (record[k] is not None or k == "steps")
    }
