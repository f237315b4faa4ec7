"""`repool generate` — placeholder wiring; the generator fills this in."""
from __future__ import annotations
import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", help="data root to write deliveries/ into")


def main(args: argparse.Namespace) -> int:
    raise SystemExit("repool generate: not implemented yet")
