#!/usr/bin/env python3
"""Regenerate cases.json and testdata/ from Istio's analyzer test grid at the pinned module.

    python3 convert.py [ISTIO_MODULE_DIR]

Also copies Istio's schema validation test data (``pkg/config/validation/testdata/crds``,
``pkg/test/datasets/validation/dataset``) into ``validation/``, for the comparison with istioctl.

Reads ``pkg/config/analysis/analyzers/analyzers_test.go`` (testGrid) and
``multicluster_analyzers_test.go`` (mcTestGrid), maps each ``msg.X`` to its code through
``pkg/config/analysis/msg/messages.yaml`` and each analyzer type to the name its ``Metadata()``
gives, and copies the testdata files the cases use (same relative paths). The Go source is read as
text with regular expressions: it is data here, never executed.
"""
from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
PIN = "istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad"
DEFAULT = Path("/root/go/pkg/mod") / PIN
VALIDATION_SOURCES = ("pkg/config/validation/testdata/crds", "pkg/test/datasets/validation/dataset")


def analyzer_names(adir: Path) -> dict[str, str]:
    """'pkg.Type' -> analyzer name, from each Metadata() method."""
    out: dict[str, str] = {}
    for f in adir.glob("*/*.go"):
        if f.name.endswith("_test.go"):
            continue
        text = f.read_text()
        pkg = f.parent.name
        for m in re.finditer(r"func \(\w* ?\*(\w+)\) Metadata\(\) analysis\.Metadata \{(.*?)\n\}", text, re.S):
            name = re.search(r'Name:\s+"([^"]+)"', m.group(2))
            if name:
                out[f"{pkg}.{m.group(1)}"] = name.group(1)
    return out


def split_cases(body: str) -> list[str]:
    """Top-level `{ ... },` blocks of a Go slice literal."""
    cases, depth, start, in_str = [], 0, None, False
    i = 0
    while i < len(body):
        c = body[i]
        if in_str:
            if c == "\\":
                i += 2
                continue
            if c == in_str:
                in_str = False
        elif c in "\"`":
            in_str = c
        elif c == "/" and body[i:i + 2] == "//":
            i = body.index("\n", i)
            continue
        elif c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                cases.append(body[start:i + 1])
        i += 1
    return cases


def strings_of(block: str, field: str) -> list[str]:
    m = re.search(field + r":\s*\[\]string\{(.*?)\}", block, re.S)
    return re.findall(r'"([^"]*)"', re.sub(r"//[^\n]*", "", m.group(1))) if m else []


def parse_grid(text: str, var: str, codes: dict[str, str], names: dict[str, str]) -> list[dict]:
    start = text.index(f"var {var} = []")
    body = text[text.index("{", text.index("{", start) + 1) - 0: ]
    # the slice literal: from the first '{' after the type to its matching '}'
    lit_start = text.index("{", text.index("]", start) + 1)
    depth, j = 0, lit_start
    while True:
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                break
        j += 1
    body = text[lit_start + 1:j]
    cases = []
    for block in split_cases(body):
        name = re.search(r'name:\s*"([^"]*)"', block).group(1)
        am = re.search(r"analyzer:\s*&(\w+)\.(\w+)\{\}", block)
        if am:
            analyzer = names[f"{am.group(1)}.{am.group(2)}"]
        else:
            cm = re.search(r"CollectionValidationAnalyzer\(collections\.(\w+)\)", block)
            analyzer = f"schema.ValidationAnalyzer.{cm.group(1)}"
        expected = []
        em = re.search(r"expected:\s*\[\]message\{(.*)\}", block, re.S)
        if em:
            for msgname, origin in re.findall(r'\{msg\.(\w+),\s*"([^"]*)"\}', re.sub(r"//[^\n]*", "", em.group(1))):
                kind, _, ref = origin.partition(" ")
                ns, _, rname = ref.rpartition("/")
                expected.append({"code": codes[msgname], "message": msgname, "kind": kind,
                                 "namespace": ns or None, "name": rname})
        case = {"name": name, "analyzer": analyzer}
        if var == "mcTestGrid":
            case["clusters"] = {"cluster1": strings_of(block, "cluster1InputFiles"),
                                "cluster2": strings_of(block, "cluster2InputFiles")}
            case["inputFiles"] = case["clusters"]["cluster1"] + case["clusters"]["cluster2"]
        else:
            case["inputFiles"] = strings_of(block, "inputFiles")
        mc = re.search(r'meshConfigFile:\s*"([^"]*)"', block)
        mn = re.search(r'meshNetworksFile:\s*"([^"]*)"', block)
        case["meshConfigFile"] = mc.group(1) if mc else None
        case["meshNetworksFile"] = mn.group(1) if mn else None
        case["skipAll"] = bool(re.search(r"skipAll:\s*true", block))
        case["expected"] = expected
        cases.append(case)
    return cases


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    adir = root / "pkg/config/analysis/analyzers"
    catalog = yaml.safe_load((root / "pkg/config/analysis/msg/messages.yaml").read_text())["messages"]
    codes = {m["name"]: m["code"] for m in catalog}
    names = analyzer_names(adir)
    cases = parse_grid((adir / "analyzers_test.go").read_text(), "testGrid", codes, names)
    cases += parse_grid((adir / "multicluster_analyzers_test.go").read_text(), "mcTestGrid", codes, names)
    seen: dict[str, int] = {}
    for c in cases:  # Istio reuses a few names; ids must be unique for pytest
        n = seen[c["name"]] = seen.get(c["name"], 0) + 1
        c["id"] = c["name"] if n == 1 else f"{c['name']} #{n}"
    out = HERE / "testdata"
    if out.exists():
        shutil.rmtree(out)
    for c in cases:
        for f in c["inputFiles"] + [x for x in (c["meshConfigFile"], c["meshNetworksFile"]) if x]:
            dst = HERE / f
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(adir / f, dst)
    (HERE / "cases.json").write_text(json.dumps(cases, indent=1) + "\n")
    # Istio's schema validation test data, for the side-by-side comparison with istioctl (validation/)
    vdir = HERE / "validation"
    if vdir.exists():
        shutil.rmtree(vdir)
    for src in VALIDATION_SOURCES:
        for f in sorted((root / src).glob("*.yaml")):
            dst = vdir / src / f.name
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f, dst)
    print(f"{len(cases)} cases, {len(list(out.rglob('*.yaml')))} testdata files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
