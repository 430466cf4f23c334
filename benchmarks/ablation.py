"""Which add-on earns its place: the paper's ST-Transformer, then each add-on alone, then all of
them, on both twin families (protocols day and block) and on AQI-36, scored on the held-out
values and against the truth on every gap. Each row is appended to `<out>.rows.jsonl` as soon
as it is scored, so a long run can stop and `--resume`; the table is rebuilt from all rows.

    python benchmarks/ablation.py --seeds 0,1,2,3,4 --out benchmarks/results/ablation
    python benchmarks/ablation.py --families bands --protocols day --seeds 0 --budget 60  # a look
    python benchmarks/ablation.py --protocols day --seeds 0 --steps 150  # on a busy machine

An add-on that does not improve the truth-on-every-gap MAE by at least 2% on either twin family
(or the held-out MAE on AQI-36) is to be removed from the code (issue 25).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path
from typing import Any

from stimpute.bench.__main__ import BUDGETS
from stimpute.bench.datasets import FAMILIES, aqi36_problem, twin_problem
from stimpute.bench.runner import run_model

PAPER = {"temporal_context": False}
NO_PRIOR = {"prior_covariate": None}
# each add-on alone on top of the paper's network, then both (the regime readout and the regime
# blend, which acted on the context's linear path, were removed after the first ablation)
VARIANTS: dict[str, dict[str, Any]] = {
    "paper": {**PAPER, **NO_PRIOR},
    "+context": {**NO_PRIOR, "temporal_context": True},
    "+prior": {**PAPER},  # the problem's prior_covariate stays
    "all": {"temporal_context": True},
}


def problems(families: list[str], protocols: list[str], seed: int, aqi: Path | None):
    for family in families:
        for protocol in protocols:
            yield twin_problem(protocol, seed=seed, family=family)
    if aqi is not None:
        yield aqi36_problem(aqi)


def _order(variant: str) -> int:
    """Where a variant's row goes: as listed in VARIANTS, then retired ones (earlier rows)."""
    return list(VARIANTS).index(variant) if variant in VARIANTS else len(VARIANTS)


def table(rows: list[dict[str, Any]]) -> str:
    """Mean over seeds per (dataset, protocol, variant), with the change against the paper's."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["protocol"], r["variant"]), []).append(r)
    lines = [
        "| dataset | protocol | variant | seeds | held-out MAE | every gap vs truth | vs paper | cov50 / cov90 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (dataset, protocol, variant), rs in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1], _order(kv[0][2]))
    ):
        held = statistics.mean(r["mae"] for r in rs)
        gaps = [r["truth_mae_all_gaps"] for r in rs if r.get("truth_mae_all_gaps") is not None]
        gap = statistics.mean(gaps) if gaps else None
        base = groups.get((dataset, protocol, "paper"), [])
        base_key = "truth_mae_all_gaps" if gap is not None else "mae"
        ref = statistics.mean(r[base_key] for r in base) if base else None
        now = gap if gap is not None else held
        change = f"{100 * (now / ref - 1):+.1f}%" if ref else ""
        cov = f"{statistics.mean(r['coverage50'] for r in rs):.2f} / {statistics.mean(r['coverage90'] for r in rs):.2f}"
        lines.append(
            f"| {dataset} | {protocol} | {variant} | {len(rs)} | {held:.4f} | "
            f"{'' if gap is None else f'{gap:.4f}'} | {change} | {cov} |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--protocols", default="day,block")
    ap.add_argument("--seeds", default="0,1,2,3,4")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument(
        "--aqi", type=Path, default=None, help="AQI-36 folder (the small budget, 3 seeds)"
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
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/ablation"))
    ap.add_argument(
        "--resume", action="store_true", help="keep the rows already in <out>.rows.jsonl"
    )
    a = ap.parse_args()
    a.out.parent.mkdir(parents=True, exist_ok=True)
    rows_path = a.out.with_suffix(".rows.jsonl")
    rows = (
        [json.loads(x) for x in rows_path.read_text().splitlines()]
        if a.resume and rows_path.exists()
        else []
    )
    if not a.resume:
        rows_path.write_text("")
    done = {(r["dataset"], r["protocol"], r["variant"], r["seed"]) for r in rows}
    families = [f for f in a.families.split(",") if f]
    protocols = [p for p in a.protocols.split(",") if p]
    for seed in (int(s) for s in a.seeds.split(",")):
        aqi = a.aqi if seed < 3 and str(a.aqi) != "none" else None  # AQI-36: 3 seeds
        for problem in problems(families, protocols, seed, aqi):
            for variant in a.variants.split(","):
                key = (problem.name, problem.protocol, variant, seed)
                if key in done or (
                    variant == "+prior" and "prior_covariate" not in problem.st_hparams
                ):
                    continue
                p = dataclasses.replace(
                    problem, st_hparams={**problem.st_hparams, **VARIANTS[variant]}
                )
                small = BUDGETS["small"]["st"]
                row = run_model(
                    p,
                    "st_transformer",
                    seed=seed,
                    time_budget_s=a.budget if a.steps is None else None,
                    st_hparams=small if a.steps is None else {**small, "max_steps": a.steps},
                )
                row.update(
                    dataset=problem.name, protocol=problem.protocol, variant=variant, seed=seed
                )
                rows.append(row)
                with rows_path.open("a") as fh:
                    fh.write(json.dumps(row, default=float) + "\n")
                text = table(rows)
                spent = (
                    f"{a.budget:.0f} s of training per fit"
                    if a.steps is None
                    else f"{a.steps} training steps per fit (fewer where early stopping ended it)"
                )
                a.out.with_suffix(".md").write_text(
                    f"# Ablation of the ST-Transformer's add-ons\n\nMeasured up to {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
                    f"`python benchmarks/ablation.py`, {spent}, small model. "
                    "'vs paper': the change of the every-gap MAE against the truth (held-out MAE on AQI-36) "
                    "from the paper's network.\n\n" + text + "\n"
                )
                a.out.with_suffix(".json").write_text(
                    json.dumps(
                        {"budget_s": a.budget, "steps": a.steps, "rows": rows},
                        indent=1,
                        default=float,
                    )
                )
                print(text.splitlines()[-1], flush=True)


if __name__ == "__main__":
    main()
