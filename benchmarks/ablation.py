"""Which add-on earns its place: the paper's ST-Transformer, then each add-on alone, then all of
them, on both twin families (protocols day and block) and on AQI-36, scored on the held-out
values and against the truth on every gap. `<out>.json` is rewritten (atomically) with every
row as soon as it is scored, so a long run can stop and `--resume`; the table is rebuilt from
all rows.

    python benchmarks/ablation.py --out benchmarks/results/ablation [--resume]  # the whole plan
    python benchmarks/ablation.py --families bands --protocols day --seeds 0 --aqi none --budget 60
    python benchmarks/ablation.py --protocols day --seeds 0 --steps 150  # on a busy machine
    python benchmarks/ablation.py --table --out benchmarks/results/ablation  # redraw the table

An add-on that does not improve the truth-on-every-gap MAE by at least 2% on either twin family
(or the held-out MAE on AQI-36) is to be removed from the code (issue 25).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.files import write_text
from stimpute.bench.__main__ import BUDGETS, SHARED_AQI
from stimpute.bench.datasets import FAMILIES, Problem, aqi36_problem, twin_problem
from stimpute.bench.peers import PEERS
from stimpute.bench.plots import strip_figure
from stimpute.bench.runner import run_model
from stimpute.config import ModelConfig
from stimpute.covariates import rain_memory

PAPER = {"temporal_context": False}
CONTEXT = {"temporal_context": True}
NO_PRIOR = {"prior_covariate": None}
NO_RAIN = {"rain_covariate": None}
# each add-on alone on top of the paper's network, then combinations; every switch a variant
# depends on is named, so a problem's own settings cannot change what a label means (the
# regime readout and the regime blend were removed after the first ablation, the network that
# learned the departure from the 9 km prior, "+prior" and "all", after the rain memory's)
VARIANTS: dict[str, dict[str, Any]] = {
    "paper": {**PAPER, **NO_PRIOR, **NO_RAIN},
    "+context": {**CONTEXT, **NO_PRIOR, **NO_RAIN},
    "+smooth 9 km": {**PAPER, **NO_RAIN},  # the problem's prior_covariate stays
    "+rain": {**PAPER, **NO_PRIOR},  # the problem's rain_covariate stays
    "+rain +smooth 9 km": {**PAPER},
    "+rain +context +smooth 9 km": {**CONTEXT},
}
ADD_ON_FIELDS = ("prior_covariate", "rain_covariate")


def needs(variant: str) -> tuple[str, ...]:
    """The channel fields the problem must name for `variant`: every add-on it does not switch
    off."""
    return tuple(k for k in ADD_ON_FIELDS if k not in VARIANTS[variant])


def problems(families: list[str], protocols: list[str], seed: int, aqi: Path | None):
    for family in families:
        for protocol in protocols:
            yield twin_problem(protocol, seed=seed, family=family)
    if aqi is not None:
        yield aqi36_problem(aqi)


def fits(problem: Problem, variants: list[str], baselines: list[str]):
    """(row label, model, problem as that model gets it) for each variant the problem allows,
    then each baseline: "random_forest", and "random_forest+rain", the forest given the same
    rain memory as the network's add-on (its indices appended to the covariates)."""
    for variant in filter(None, variants):
        if all(k in problem.st_hparams for k in needs(variant)):
            hparams = {**problem.st_hparams, **VARIANTS[variant]}
            yield variant, "st_transformer", dataclasses.replace(problem, st_hparams=hparams)
    for name in filter(None, baselines):
        if name == "random_forest+rain":
            k = problem.st_hparams.get("rain_covariate")
            if k is None or problem.covariates is None:
                continue
            rain = rain_memory(
                problem.covariates[..., k], ModelConfig.rain_memory, before=problem.rain_before
            )
            covariates = np.concatenate([problem.covariates, rain], axis=-1)
            yield name, "random_forest", dataclasses.replace(problem, covariates=covariates)
        else:
            yield name, name, problem


def _order(variant: str) -> int:
    """Where a variant's row goes: as listed in VARIANTS, then retired ones (earlier rows)."""
    return list(VARIANTS).index(variant) if variant in VARIANTS else len(VARIANTS)


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


FOREST = (
    "random_forest+rain"  # the best baseline on both families: the forest given the rain indices
)
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
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1], _order(kv[0][2]))
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
        for r in sorted(rs, key=lambda r: _order(r["variant"])):
            scores.setdefault(r["variant"], []).append(r[key])
    return out


# each add-on: (with it alone, the paper's network) and (the shipped mix with it, without it)
ADD_ON_PAIRS = {
    "+context": (("+context", "paper"), ("+rain +context +smooth 9 km", "+rain +smooth 9 km")),
    "+smooth 9 km": (("+smooth 9 km", "paper"), ("+rain +smooth 9 km", "+rain")),
    "+rain": (("+rain", "paper"), ("+rain +smooth 9 km", "+smooth 9 km")),
}
KEEP = -0.02  # an add-on earns its place by lowering the MAE at least 2% somewhere (issue 25)


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
        "# Ablation of the ST-Transformer's add-ons\n\nMeasured up to "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
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


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--protocols", default="day,block")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument(
        "--baselines",
        default=FOREST,
        help="baselines fitted on the same problems, for reference ('' for none); the forest "
        "given the rain indices is the best of them on both families; the PyPOTS peers ("
        + ", ".join(PEERS)
        + "; the 'peers' extra) train for the network's seconds",
    )
    ap.add_argument(
        "--aqi",
        type=lambda s: None if s == "none" else Path(s),
        default=SHARED_AQI,
        help="AQI-36 folder (the small budget, 3 seeds); 'none' to leave it out",
    )
    ap.add_argument(
        "--budget",
        type=float,
        default=BUDGETS["small"]["time_budget_s"],
        help="training seconds per fit",
    )
    ap.add_argument(
        "--steps",
        type=int,
        default=None,
        help="training steps per fit instead of a time budget: rows that do not depend on how "
        "busy the machine is",
    )
    ap.add_argument(
        "--hparams",
        type=json.loads,
        default={},
        help="JSON of network settings on top of every variant's, for a candidate change "
        """(e.g. '{"hide_modes": ["day", "block"]}'); written to <out>.json""",
    )
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/ablation"))
    ap.add_argument("--resume", action="store_true", help="keep the rows already in <out>.json")
    ap.add_argument("--table", action="store_true", help="only redraw the table from the rows")
    a = ap.parse_args(argv)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    record = saved(a.out)
    rows = list(record.get("rows", []))
    given = {"budget_s": a.budget, "steps": a.steps, "hparams": a.hparams}
    recorded = recorded_settings(record)
    if a.table:  # with the settings the rows were measured with, where the record names them
        s = {**given, **recorded}
        print(write(a.out, rows, s["budget_s"], s["steps"], s["hparams"]))
        return
    json_path = a.out.with_suffix(".json")
    if rows and not a.resume:
        raise SystemExit(
            f"{json_path} holds {len(rows)} rows already: add --resume to go on with them, or "
            "give another --out"
        )
    differ = {k: v for k, v in recorded.items() if v != given[k]}
    if rows and differ:
        raise SystemExit(
            f"{json_path}'s rows were measured with {differ}: give the same --budget, --steps "
            "and --hparams to go on with them, or another --out"
        )
    done = {(r["dataset"], r["protocol"], r["variant"], r["seed"]) for r in rows}
    families = [f for f in a.families.split(",") if f]
    protocols = [p for p in a.protocols.split(",") if p]
    small = BUDGETS["small"]["st"]
    st_hparams = {**small, **({} if a.steps is None else {"max_steps": a.steps}), **a.hparams}
    for seed in (int(s) for s in a.seeds.split(",")):
        aqi = a.aqi if seed < 3 else None  # AQI-36: 3 seeds
        for problem in problems(families, protocols, seed, aqi):
            for variant, model, p in fits(problem, a.variants.split(","), a.baselines.split(",")):
                if (problem.name, problem.protocol, variant, seed) in done:
                    continue
                neural = model == "st_transformer"
                # the peers have no step count: --budget seconds always; the network unless --steps
                timed = model in PEERS or (neural and a.steps is None)
                row = run_model(
                    p,
                    model,
                    seed=seed,
                    time_budget_s=a.budget if timed else None,
                    st_hparams=st_hparams if neural else {},
                )
                row.update(
                    dataset=problem.name, protocol=problem.protocol, variant=variant, seed=seed
                )
                rows.append(row)
                print(write(a.out, rows, a.budget, a.steps, a.hparams).splitlines()[-1], flush=True)
    # a resumed run with nothing left redraws the table
    write(a.out, rows, a.budget, a.steps, a.hparams)


if __name__ == "__main__":
    main()
