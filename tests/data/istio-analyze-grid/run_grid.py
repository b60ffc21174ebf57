#!/usr/bin/env python3
"""Runner for Istio's analyzer test grid (cases.json, see SOURCE.md) against mesh-plugin's analyze.

    run_grid.py [-v]

Each case names one analyzer, its input files (and, for some, a mesh config, a mesh networks file or two
clusters) and the messages Istio's own test expects, as (code, "Kind [ns/]name"). A case passes when the
multiset of (code, kind, name) our analysis reports equals Istio's, the namespace compared where Istio's
expectation names one (as tests/conformance/run_istio_analyze.py compares). Cases listed in
KNOWN-DIFFERENCES.md are expected to fail, each for the reason given there.

Last line: "N passed, M failed" (M counts every failing case, known differences included).
"""
from __future__ import annotations

import argparse
import collections
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
CASES: list[dict] = json.loads((HERE / "cases.json").read_text())
_KNOWN = re.compile(r"^- `([^`]+)`: (.+)$")


def known_differences() -> dict[str, str]:
    """Case id -> reason, from the "Grid cases" list of KNOWN-DIFFERENCES.md."""
    out: dict[str, str] = {}
    text = (HERE / "KNOWN-DIFFERENCES.md").read_text()
    section = text.split("## Grid cases that do not pass", 1)[1].split("\n## ", 1)[0]
    for line in section.splitlines():
        m = _KNOWN.match(line.strip())
        if m:
            out[m.group(1)] = m.group(2)
    return out


@dataclass
class Outcome:
    case: dict
    got: list[tuple[str, str, str, str | None]] = field(default_factory=list)
    missing: list[tuple] = field(default_factory=list)
    unexpected: list[tuple] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and not self.missing and not self.unexpected


def _messages(case: dict):
    from mesh_plugin.tools.analyze import run_analysis

    if case.get("clusters"):
        from mesh_plugin.analyzers import Context, run, select
        from mesh_plugin.kube.snapshot import Snapshot

        clusters = {cid: Snapshot.from_paths([str(HERE / f) for f in files]) for cid, files in
                    case["clusters"].items()}
        merged = Snapshot(source="files")
        for snap in clusters.values():
            for items in snap.objects.values():
                for obj in items:
                    merged.add(obj)
        return run(Context(merged, clusters=clusters), select([case["analyzer"]]))
    mesh = str(HERE / case["meshConfigFile"]) if case.get("meshConfigFile") else None
    networks = str(HERE / case["meshNetworksFile"]) if case.get("meshNetworksFile") else None
    msgs, _, _, _ = run_analysis([str(HERE / f) for f in case["inputFiles"]], None, [case["analyzer"]], None, mesh,
                                 mesh_networks_file=networks)
    return msgs


def evaluate(case: dict) -> Outcome:
    out = Outcome(case)
    try:
        msgs = _messages(case)
    except Exception as e:  # a crash fails the case
        out.error = f"{type(e).__name__}: {e}"
        return out
    out.got = [(m.code, m.kind, m.name, m.namespace) for m in msgs]
    unmatched = [(e["code"], e["kind"], e["name"], e.get("namespace")) for e in case["expected"]]
    for g in out.got:  # the namespace counts only where the expectation names one
        hit = next((w for w in unmatched if w[:3] == g[:3] and w[3] in (None, g[3])), None)
        if hit:
            unmatched.remove(hit)
        else:
            out.unexpected.append(g)
    out.missing = unmatched
    return out


def expected_counter(case: dict) -> collections.Counter:
    return collections.Counter((e["code"], e["kind"], e["name"]) for e in case["expected"])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    known = known_differences()
    passed = failed = 0
    for case in CASES:
        o = evaluate(case)
        passed += o.ok
        failed += not o.ok
        if args.verbose or not o.ok:
            tag = "PASS" if o.ok else ("FAIL (known difference)" if case["id"] in known else "FAIL")
            print(f"{tag} {case['id']} [{case['analyzer']}]")
            if not o.ok:
                if o.error:
                    print(f"   error: {o.error}")
                for k in o.missing:
                    print(f"   missing: {k}")
                for k in o.unexpected:
                    print(f"   unexpected: {k}")
                if case["id"] in known:
                    print(f"   reason: {known[case['id']]}")
    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
