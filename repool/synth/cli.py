"""`repool generate`: write synthetic deliveries (default, scale or corrupt mode).

Kept light: only argparse at import time; the generator is imported when the command runs.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

DEFAULT_SEED = 20210308  # = repool.synth.cohort.DEFAULT_SEED (not imported here to stay light)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, help="data root to write deliveries/ into (default: the project's data/)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default: {DEFAULT_SEED})")
    p.add_argument("--studies", type=int, metavar="K", help="scale mode: number of studies")
    p.add_argument("--patients-per-study", type=int, metavar="M", help="scale mode: patients per study")
    p.add_argument("--corrupt", metavar="KIND", help="write a broken copy of a delivery (see --list-corruptions)")
    p.add_argument("--study", help="corrupt mode: the study to break (default: per kind)")
    p.add_argument("--list-corruptions", action="store_true", help="list the corruption kinds and exit")


def main(args: argparse.Namespace) -> int:
    from repool.resources import bundled_data_dir

    if args.list_corruptions:
        from repool.synth.corrupt import describe_kinds
        print(describe_kinds())
        return 0
    root = Path(args.out) if args.out else bundled_data_dir()
    if args.corrupt:
        from repool.synth.corrupt import write_corrupt_delivery
        try:
            desc = write_corrupt_delivery(root, args.corrupt, args.study, seed=args.seed)
        except ValueError as e:
            print(f"repool generate: {e}")
            return 2
        print(json.dumps(desc))
        return 0
    if args.studies or args.patients_per_study:
        if not (args.studies and args.patients_per_study):
            print("repool generate: scale mode needs both --studies and --patients-per-study")
            return 2
        from repool.synth.deliveries import write_scale_deliveries
        for folder in write_scale_deliveries(root, args.studies, args.patients_per_study, args.seed):
            print(folder)
        return 0
    from repool.synth.deliveries import write_default_deliveries
    for folder in write_default_deliveries(root, args.seed):
        print(folder)
    return 0
