"""Which add-on earns its place: the paper's ST-Transformer, then each add-on alone, then all of
them, on both twin families (protocols day and block) and on AQI-36, scored on the held-out
values and against the truth on every gap. `<out>.json` is rewritten (atomically) with every
row as soon as it is scored, so a long run can stop and `--resume`; the table is rebuilt from
all rows. What is compared is in `ablation_variants.py`, the report in `ablation_report.py`.

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
from pathlib import Path

import numpy as np
from ablation_report import recorded_settings, saved, write
from ablation_variants import FOREST, VARIANTS, needs

from stimpute.bench.__main__ import BUDGETS, SHARED_AQI
from stimpute.bench.datasets import FAMILIES, Problem, aqi36_problem, twin_problem
from stimpute.bench.peers import PEERS
from stimpute.bench.runner import run_model
from stimpute.config import ModelConfig
from stimpute.covariates import rain_memory


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
