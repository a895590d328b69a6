"""The table `make mutate` prints: per module, its mutants, how many the tests killed, which are equivalent, which survive.

Reads mutmut's results (`mutmut results --all true`) and the equivalent
mutants listed in tests/MUTANTS.md (each by its full mutmut name, with the
reason). A survivor not listed there is a test to write; a listed mutant that
the tests now kill is reported too, so the list never goes stale. Exits 1 if
any module is below the target share of non-equivalent mutants killed.

Usage: .venv/bin/python tests/mutation_report.py [--target 98]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LISTED = ROOT / "tests" / "MUTANTS.md"
NAME = re.compile(r"`(shop\.[\w.ǁ]+__mutmut_\d+)`")
# Found by the tests: a failing test, or a run so slow it was stopped (an endless loop is a failure too).
DETECTED = {"killed", "timeout", "segfault", "caught by type check"}


def results() -> dict[str, str]:
    """Every mutant's name and status, as mutmut reports them."""
    out = subprocess.run([sys.executable, "-m", "mutmut", "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True, check=True)
    found = {}
    for line in out.stdout.splitlines():
        name, _, status = line.strip().rpartition(": ")
        if name.startswith("shop."):
            found[name] = status
    return found


def module_of(name: str) -> str:
    """shop.orders.flow.x_order_claim__mutmut_3 -> shop/orders/flow.py"""
    return re.sub(r"\.x[_ǁ].*$", "", name).replace(".", "/") + ".py"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--target", type=float, default=98.0, help="least share of non-equivalent mutants killed, per module (%%)")
    args = parser.parse_args()
    statuses = results()
    equivalent = set(NAME.findall(LISTED.read_text())) if LISTED.exists() else set()
    counts: dict[str, Counter] = defaultdict(Counter)
    survivors: dict[str, list[str]] = defaultdict(list)
    for name, status in sorted(statuses.items()):
        module = module_of(name)
        counts[module]["mutants"] += 1
        if status in DETECTED:
            counts[module]["killed"] += 1
            if name in equivalent:
                print(f"listed as equivalent but killed now (remove it from MUTANTS.md): {name}")
        elif name in equivalent:
            counts[module]["equivalent"] += 1
        else:
            counts[module]["survived"] += 1
            survivors[module].append(f"{name}: {status}")
    for name in sorted(equivalent - set(statuses)):
        print(f"listed as equivalent but no such mutant (renumbered? remove it from MUTANTS.md): {name}")
    print(f"\n{'module':34} {'mutants':>8} {'killed':>7} {'equiv.':>7} {'survived':>9} {'killed %':>9}")
    below = False
    for module in sorted(counts):
        count = counts[module]
        scored = count["mutants"] - count["equivalent"]
        share = 100.0 * count["killed"] / scored if scored else 100.0
        below |= share < args.target
        print(f"{module:34} {count['mutants']:8} {count['killed']:7} {count['equivalent']:7} {count['survived']:9} {share:8.1f}%")
    for module in sorted(survivors):
        print(f"\nsurvivors in {module} (`mutmut show <name>` shows the change):")
        for line in survivors[module]:
            print(f"  {line}")
    return 1 if below else 0


if __name__ == "__main__":
    raise SystemExit(main())
