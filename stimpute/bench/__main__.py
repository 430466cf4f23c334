"""python -m stimpute.bench --dataset twin|aqi36 --protocol day,point --budget small --out results.json"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Any

import torch

from stimpute.bench import plots, throughput
from stimpute.bench.datasets import FAMILIES, aqi36_problem, twin_problem
from stimpute.bench.runner import (
    NEURAL,
    aggregate,
    check_merge,
    markdown_seeds,
    markdown_sparsity,
    markdown_table,
    merge,
    plain,
    run,
)
from stimpute.config import CPU_SMALL
from stimpute.errors import StimputeError

DEFAULT_MODELS = "st_transformer,mean,linear,neighbours,dctpls,mice,random_forest"
SHARED_AQI = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "aqi36"

# What a budget means: the ST-Transformer's training time per fit and its size. `small` is
# sized for 2 CPU cores (the whole twin benchmark in about 20 minutes); `full` is the paper's
# model trained up to 6,000 steps or two hours, whichever comes first (on 2 CPU cores AQI-36
# takes about 90 minutes; at 3,000 steps it was still learning: benchmarks/README.md, "AQI-36").
BUDGETS: dict[str, dict[str, Any]] = {
    "small": {
        "time_budget_s": 400.0,
        "st": CPU_SMALL,
    },
    "full": {"time_budget_s": 7200.0, "st": {"max_steps": 6000}},
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m stimpute.bench", description=__doc__)
    p.add_argument("--dataset", choices=["twin", "aqi36"], default="twin")
    p.add_argument(
        "--protocol",
        default="day,point",
        help="comma list of day, point, block (twin) or native (aqi36)",
    )
    p.add_argument(
        "--models", default=DEFAULT_MODELS, help=f"comma list (default {DEFAULT_MODELS})"
    )
    p.add_argument("--budget", choices=sorted(BUDGETS), default="small")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--seeds",
        default=None,
        help="comma list of seeds (e.g. 0,1,2,3,4): every model once per seed, then mean and std",
    )
    p.add_argument(
        "--sparsity",
        default=None,
        help="twin only: comma list of observed shares (e.g. 0.5,0.25,0.1,0.05); runs the point "
        "protocol on a twin seen daily and thinned to each share, and writes the sparsity curve",
    )
    p.add_argument("--size", type=int, default=36, help="twin grid side in pixels")
    p.add_argument(
        "--family",
        choices=FAMILIES,
        default="bands",
        help="twin simulator: bands (frontal rain, two-store bucket) or convective",
    )
    p.add_argument("--days", type=int, default=365, help="twin length in days")
    p.add_argument(
        "--time-budget",
        type=float,
        default=None,
        help="override the ST-Transformer training seconds",
    )
    p.add_argument("--data-dir", type=Path, default=SHARED_AQI, help="folder of the AQI-36 files")
    p.add_argument(
        "--no-throughput", action="store_true", help="skip the inference throughput measurement"
    )
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/results.json"))
    p.add_argument(
        "--merge",
        action="store_true",
        help="add these models' rows to the tables already in --out (same problem), replacing "
        "their earlier rows and keeping the other models'",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="after a run that died: take the rows it saved in <out>.rows.jsonl (same problem, "
        "seed and training budget) instead of fitting those models again",
    )
    return p.parse_args(argv)


def _figures(problem: Any, filled: dict, result: dict, out: Path, protocol: str) -> None:
    """The map-and-series figure (twin) and the reliability plot of the neural models' std."""
    neural = [r["model"] for r in result["results"] if r["model"] in NEURAL]
    rel = plots.reliability_figure(
        problem,
        {m: filled[m] for m in neural if m in filled},
        out.with_name(f"{out.stem}-{protocol}-reliability.png"),
    )
    if rel is not None:
        result["reliability_figure"] = rel.name
        print(f"wrote {rel}")
    if problem.truth is None:
        return
    best = min(
        (r for r in result["results"] if r["model"] not in NEURAL and r["model"] in filled),
        key=lambda r: r["mae"],
        default=None,
    )
    pair = ("st_transformer", best["model"] if best else "st_transformer")
    if pair[0] not in filled:
        return
    png = plots.twin_figure(
        problem, filled, out.with_name(f"{out.stem}-{protocol}.png"), models=pair
    )
    if png is not None:
        result["figure"] = png.name
        print(f"wrote {png}")


def _rows_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}.rows.jsonl")


def _row_key(problem: Any, seed: int, time_budget: float) -> dict[str, Any]:
    """What a saved row must match to be reused by --resume."""
    return {
        "dataset": problem.name,
        "protocol": problem.protocol,
        "seed": seed,
        "info": problem.info,
        "st_time_budget_s": time_budget,
    }


def _save_row(out: Path, key: dict[str, Any], row: dict[str, Any]) -> None:
    """Each scored row at once, one JSON line, so a long run that dies keeps what it scored
    (removed when the tables are written; --resume takes them back)."""
    with _rows_path(out).open("a") as fh:
        fh.write(json.dumps({**key, "row": row}, default=float) + "\n")


def _saved_rows(out: Path, key: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Rows an interrupted run saved for this very problem, by model (the last one wins)."""
    path = _rows_path(out)
    if not path.is_file():
        return {}
    found: dict[str, dict[str, Any]] = {}
    for n, text in enumerate(path.read_text().splitlines(), 1):
        try:
            line = json.loads(text)
        except json.JSONDecodeError:
            print(f"warning: {path}:{n} is cut short (the run died writing it); skipped",
                  file=sys.stderr)  # fmt: skip
            continue
        if {k: line.get(k) for k in key} == key:
            found[line["row"]["model"]] = line["row"]
    return found


def _run(args: argparse.Namespace, problem: Any, models: list[str], seed: int,
         time_budget: float, st: dict[str, Any], earlier: Any, **kw: Any) -> dict[str, Any]:  # fmt: skip
    """`runner.run` with each row saved as scored, the rows of a dead run taken back with
    --resume, and a --merge into another problem refused before anything is fitted."""
    if earlier is not None:
        check_merge(earlier, problem.name, problem.protocol, problem.info)
    key = plain(_row_key(problem, seed, time_budget))
    return run(
        problem,
        models,
        seed=seed,
        time_budget_s=time_budget,
        st_hparams=st,
        on_row=lambda row: _save_row(args.out, key, row),
        done=_saved_rows(args.out, key) if args.resume else None,
        **kw,
    )


def _markdown(o: dict[str, Any]) -> str:
    if "curve" in o:
        return markdown_sparsity(o)
    return markdown_seeds(o) if "summary" in o else markdown_table(o)


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    budget = BUDGETS[args.budget]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    time_budget = args.time_budget if args.time_budget is not None else budget["time_budget_s"]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    protocols = [p.strip() for p in args.protocol.split(",") if p.strip()]
    started = time.perf_counter()
    outputs: list[dict[str, Any]] = []
    earlier = json.loads(args.out.read_text()) if args.merge and args.out.is_file() else None
    try:
        seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else [args.seed]
        if args.sparsity:
            if args.dataset != "twin":
                raise StimputeError("--sparsity needs --dataset twin")
            curve = []
            for share in (float(x) for x in args.sparsity.split(",")):
                problem = twin_problem(
                    "point", size=args.size, days=args.days, seed=args.seed, observed_share=share
                )
                result = _run(args, problem, models, args.seed, time_budget, budget["st"], None)
                result["observed_share"] = share
                print("\n" + markdown_table(result) + "\n", flush=True)
                curve.append(result)
            outputs.append({"dataset": "twin", "protocol": "sparsity", "curve": curve})
            png = plots.sparsity_figure(curve, args.out.with_name(f"{args.out.stem}-sparsity.png"))
            if png is not None:
                outputs[-1]["figure"] = png.name
            print("\n" + markdown_sparsity(outputs[-1]) + "\n", flush=True)
            protocols = []
        for protocol in protocols:
            runs = []
            for seed in seeds:
                if args.dataset == "twin":
                    problem = twin_problem(
                        protocol, size=args.size, days=args.days, seed=seed, family=args.family
                    )
                else:
                    if protocol != "native":
                        raise StimputeError("aqi36 has one protocol: --protocol native")
                    problem = aqi36_problem(args.data_dir)
                filled: dict = {}
                # several seeds make a summary, which replaces the earlier one whole: only a
                # single run's table is merged row by row, so only it must be the same problem
                table_of = earlier if len(seeds) == 1 else None
                result = _run(args, problem, models, seed, time_budget, budget["st"], table_of,
                              keep=filled)  # fmt: skip
                result["budget"] = args.budget
                if seed == seeds[0]:
                    _figures(problem, filled, result, args.out, protocol)
                print("\n" + markdown_table(result) + "\n", flush=True)
                runs.append(result)
            if len(runs) > 1:
                agg = aggregate(runs)
                agg["budget"] = args.budget
                outputs.append(agg)
                print("\n" + markdown_seeds(agg) + "\n", flush=True)
            else:
                outputs.append(runs[0])
    except StimputeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    tput = None
    if args.dataset == "twin" and "st_transformer" in models and not args.no_throughput:
        tput = throughput.measure()  # always the default (paper-size) model
        print(throughput.markdown(tput) + "\n")
    machine = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": platform.processor() or platform.machine(),
        "cuda": torch.cuda.is_available(),
    }
    for o in outputs:
        o["machine"] = machine
        if tput is not None:
            o["throughput"] = tput
    args.out.parent.mkdir(parents=True, exist_ok=True)
    if earlier is not None:
        outputs = merge(earlier, outputs)
    payload: Any = outputs[0] if len(outputs) == 1 else outputs
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, indent=2, default=float))
    tmp.replace(args.out)
    md = "\n\n".join(_markdown(o) for o in outputs) + (
        "\n\n" + throughput.markdown(tput) if tput else ""
    )
    args.out.with_suffix(".md").write_text(md + "\n")
    _rows_path(args.out).unlink(missing_ok=True)
    print(
        f"wrote {args.out} and {args.out.with_suffix('.md')} in {time.perf_counter() - started:.0f}s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
