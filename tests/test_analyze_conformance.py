"""Istio's own analyzer test cases (tests/data/istio-analyze, see its SOURCE.md), case by case and via the runner."""
from __future__ import annotations

import collections
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mesh_plugin.tools.analyze import run_analysis

ROOT = Path(__file__).resolve().parent
CASES_DIR = ROOT / "data/istio-analyze"
CASES = json.loads((CASES_DIR / "cases.json").read_text())


def _origin(m):
    return (m.code, m.kind, m.name, m.namespace)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_istio_analyzer_case(case):
    files = [str(CASES_DIR / f) for f in case["inputFiles"]]
    mesh = str(CASES_DIR / case["meshConfigFile"]) if case.get("meshConfigFile") else None
    msgs, _, _, _ = run_analysis(files, None, [case["analyzer"]], None, mesh)
    got = collections.Counter((m.code, m.kind, m.name) for m in msgs)
    want = collections.Counter((e["code"], e["kind"], e["name"]) for e in case["expected"])
    assert got == want
    for e in case["expected"]:  # the namespace counts where Istio's expectation names one
        if e.get("namespace"):
            assert any(m.code == e["code"] and m.name == e["name"] and m.namespace == e["namespace"] for m in msgs), e


def test_runner_against_the_cli():
    cli = str(Path(sys.executable).parent / "mesh-plugin")
    r = subprocess.run([sys.executable, str(ROOT / "conformance/run_istio_analyze.py"), str(CASES_DIR),
                        "--cmd", f"{cli} analyze"], capture_output=True, text=True, timeout=600)
    assert r.stdout.strip().splitlines()[-1] == f"{len(CASES)} passed, 0 failed", r.stdout[-3000:]
