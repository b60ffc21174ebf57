"""Our analyze side by side with istioctl analyze from the same Istio pin, on every input set of Istio's analyzer
grid (tests/data/istio-analyze-grid), on Istio's schema validation test data (its validation/ folder) and on the
seeded sandbox mesh.

Compared: the multiset of (IST code, resource) of `istioctl analyze --use-kube=false -A -o json` and ours.
MESH codes are ours and left out. istioctl reads files without Pods, Services, Namespaces, Nodes and Secrets
and skips the analyzers that need them (kuberesource.DefaultExcludedSchemas); run_analysis does the same
with ``file_runtime_kinds=False``, and that comparison must be exact. Our default reading of files keeps those
kinds (Istio's own analyzer tests do), so there everything istioctl reports must be among ours.

istioctl: $MESH_PLUGIN_ISTIOCTL, else the oracle's (.tools/oracle/istioctl, `make oracle`). Skipped when
neither exists; failed instead when CI=true.
"""
from __future__ import annotations

import collections
import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from mesh_plugin.tools.analyze import run_analysis

pytestmark = pytest.mark.oracle

ROOT = Path(__file__).resolve().parent
GRID = ROOT / "data/istio-analyze-grid"
CASES = json.loads((GRID / "cases.json").read_text())


def _istioctl() -> Path:
    explicit = os.environ.get("MESH_PLUGIN_ISTIOCTL")
    oracle_dir = Path(os.environ.get("MESH_ORACLE_DIR", ROOT.parent / ".tools" / "oracle"))
    for candidate in ([Path(explicit)] if explicit else []) + [oracle_dir / "istioctl"]:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    reason = (f"no istioctl from the Istio pin: set MESH_PLUGIN_ISTIOCTL or build the oracle (`make oracle`, "
              f"{oracle_dir / 'istioctl'})")
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason + " (CI=true: this comparison must not skip)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def istioctl() -> Path:
    return _istioctl()


def _istioctl_run(binary: Path, files: list[str], mesh: str | None, cwd: Path) -> subprocess.CompletedProcess:
    args = [str(binary), "analyze", "--use-kube=false", "-A", "-o", "json"]
    if mesh:
        args.append(f"--meshConfigFile={mesh}")
    return subprocess.run(args + files, capture_output=True, text=True, timeout=120, cwd=cwd)


def _istioctl_messages(binary: Path, files: list[str], mesh: str | None, cwd: Path) -> list[dict]:
    p = _istioctl_run(binary, files, mesh, cwd)
    out = p.stdout
    start = 0 if out.lstrip().startswith("[") else out.find("\n[") + 1  # istioctl may log a warning first
    assert start >= 0 and out[start:].strip(), f"istioctl gave no JSON: {out[-500:]} {p.stderr[-500:]}"
    return json.loads(out[start:])


def _key(origin: str) -> str:
    # with -A istioctl leaves objects without a namespace without one; we place them in "default" as kubectl
    return origin.replace(" default/", " ", 1)


def _compare(binary: Path, files: list[str], mesh: str | None, cwd: Path) -> tuple[collections.Counter, ...]:
    theirs = collections.Counter((m["code"], _key(m["origin"])) for m in
                                 _istioctl_messages(binary, files, mesh, cwd))
    as_istioctl, _, _, _ = run_analysis([str(cwd / f) for f in files], None, None, None,
                                        str(cwd / mesh) if mesh else None, file_runtime_kinds=False)
    ours = collections.Counter((m.code, _key(m.origin)) for m in as_istioctl if m.code.startswith("IST"))
    default, _, _, _ = run_analysis([str(cwd / f) for f in files], None, None, None,
                                    str(cwd / mesh) if mesh else None)
    ours_default = collections.Counter((m.code, _key(m.origin)) for m in default if m.code.startswith("IST"))
    return theirs, ours, ours_default


def _input_sets() -> list[tuple[list[str], str | None, str]]:
    seen: dict[tuple, str] = {}
    for c in CASES:
        for files in (c["clusters"].values() if c.get("clusters") else [c["inputFiles"]]):
            seen.setdefault((tuple(files), c.get("meshConfigFile")), c["id"])
    return [(list(files), mesh, cid) for (files, mesh), cid in seen.items()]


def test_same_analyzers_as_istioctl(istioctl):
    """The 53 names and descriptions `istioctl analyze --list-analyzers` prints."""
    from mesh_plugin.analyzers import ISTIO

    p = subprocess.run([str(istioctl), "analyze", "--list-analyzers"], capture_output=True, text=True, timeout=60)
    lines = p.stdout.splitlines()
    theirs = {ln[2:].rstrip(":"): lines[n + 1].strip() for n, ln in enumerate(lines) if ln.startswith("* ")}
    assert len(theirs) == 53
    assert {a.name: a.description.strip() for a in ISTIO} == theirs


def test_grid_inputs_side_by_side(istioctl):
    """Every input set of the grid: as istioctl reads files, the same (code, resource) multiset."""
    differ, not_superset = [], []
    sets = _input_sets()
    for files, mesh, cid in sets:
        theirs, ours, ours_default = _compare(istioctl, files, mesh, GRID)
        if theirs != ours:
            differ.append(f"{cid}: istioctl only {sorted((theirs - ours).elements())}, "
                          f"ours only {sorted((ours - theirs).elements())}")
        if theirs - ours_default:
            not_superset.append(f"{cid}: {sorted((theirs - ours_default).elements())}")
    print(f"\nistioctl side by side on the grid: {len(sets) - len(differ)}/{len(sets)} input sets agree")
    assert not differ, "\n".join(differ)
    assert not not_superset, "\n".join(not_superset)


def _known_side_by_side() -> set[str]:
    text = (GRID / "KNOWN-DIFFERENCES.md").read_text()
    section = text.split("## Side-by-side inputs that differ from istioctl", 1)[1].split("\n## ", 1)[0]
    return {ln.split("`")[1] for ln in section.splitlines() if ln.startswith("- `")}


def test_istio_validation_data_side_by_side(istioctl):
    """Istio's schema validation test data (valid and invalid objects of every kind), file by file."""
    known = _known_side_by_side()
    files = sorted(str(p.relative_to(GRID)) for p in (GRID / "validation").rglob("*.yaml"))
    assert len(files) == 55 and known <= set(files)
    differ, still_known = [], []
    for f in files:
        theirs, ours, _ = _compare(istioctl, [f], None, GRID)
        if f in known:
            still_known += [f] if theirs != ours else []
        elif theirs != ours:
            differ.append(f"{f}: istioctl only {sorted((theirs - ours).elements())}, "
                          f"ours only {sorted((ours - theirs).elements())}")
    print(f"\nistioctl side by side on Istio's validation data: {len(files) - len(differ) - len(still_known)}/"
          f"{len(files)} files agree, {len(still_known)} known differences")
    assert not differ, "\n".join(differ)
    assert set(still_known) == known, "a known difference no longer differs: remove it from KNOWN-DIFFERENCES.md"


#: values a mutation puts in a field: wrong types, edge numbers, bad hosts, durations, wildcards
MUTATIONS = ["", "*", "*.com", "foo", "foo.bar", "a/b", "./x.com", "*/*", "~/x.y", "1.2.3.4", "1.2.3.4/33", "::1",
             "unix:///tmp/x", "unix://", 0, -1, 65536, 80, "0.5ms", "1ms", "10s", "0s", "1.5s", None, [], {}, ["a"],
             [""], "UPPER", "bad_name", "GET", "get", "x" * 70, True, 100, 101, -5]


def _mutated_objects(seed: int, count: int) -> list[dict]:
    """``count`` Istio objects from the grid's inputs and Istio's validation data, each with 1-3 fields set to one
    of MUTATIONS (mostly one of the field's own type) or removed, deterministically from ``seed``. EnvoyFilters are
    left out: their patch values are Envoy protobufs, checked only at the top level here (KNOWN-DIFFERENCES.md)."""
    import copy
    import random

    docs = []
    for path in sorted(GRID.rglob("*.yaml")):
        if "serviceentry-valid" in path.name:
            continue
        try:
            loaded = list(yaml.safe_load_all(path.read_text()))
        except yaml.YAMLError:
            continue
        docs += [d for d in loaded if isinstance(d, dict) and isinstance(d.get("spec"), dict)
                 and ".istio.io/" in str(d.get("apiVersion")) and d.get("kind") != "EnvoyFilter"]
    rnd = random.Random(seed)

    def fields(o, path=()):
        if isinstance(o, dict):
            for k, v in o.items():
                yield from fields(v, path + (k,))
        elif isinstance(o, list):
            for n, v in enumerate(o):
                yield from fields(v, path + (n,))
        if path:
            yield path

    out = []
    for n in range(count):
        d = copy.deepcopy(rnd.choice(docs))
        d.pop("_err", None)
        d["metadata"] = {"name": f"m{n}", "namespace": "fz"}
        paths = list(fields(d["spec"]))
        for _ in range(rnd.randint(1, 3)):
            if not paths:
                break
            path = rnd.choice(paths)
            parent = d["spec"]
            try:
                for k in path[:-1]:
                    parent = parent[k]
                same = [x for x in MUTATIONS if type(x) is type(parent[path[-1]])]
                value = copy.deepcopy(rnd.choice(same if same and rnd.random() < 0.7 else MUTATIONS))
                if value is None and isinstance(parent, dict) and rnd.random() < 0.5:
                    parent.pop(path[-1], None)
                else:
                    parent[path[-1]] = value
            except (KeyError, IndexError, TypeError):
                continue
        out.append(d)
    return out


def test_mutated_objects_side_by_side(istioctl, tmp_path):
    """300 Istio objects with wrong types, edge values and bad names in random fields: istioctl and we agree on
    which it refuses to decode and on every schema message of the others."""
    import re

    objs = _mutated_objects(seed=19, count=300)
    (tmp_path / "mutated.yaml").write_text(yaml.safe_dump_all(objs))
    theirs, ours, _ = _compare(istioctl, ["mutated.yaml"], None, tmp_path)
    # the objects istioctl refuses to decode ("error processing mutated.yaml[N]") are the ones we refuse (MESH0001)
    stderr = _istioctl_run(istioctl, ["mutated.yaml"], None, tmp_path).stderr
    refused_theirs = {f"m{n}" for n in re.findall(r"error processing mutated\.yaml\[(\d+)\]", stderr)}
    msgs, _, _, _ = run_analysis([str(tmp_path / "mutated.yaml")], None, None, None, None, file_runtime_kinds=False)
    refused_ours = {m.name for m in msgs if m.code == "MESH0001"}
    assert refused_theirs == refused_ours, (f"refused by istioctl only: {sorted(refused_theirs - refused_ours)}, "
                                            f"by us only: {sorted(refused_ours - refused_theirs)}")
    by_name = collections.defaultdict(list)
    for (code, origin), n in (theirs - ours).items():
        by_name[origin].append(f"istioctl only {code} x{n}")
    for (code, origin), n in (ours - theirs).items():
        by_name[origin].append(f"ours only {code} x{n}")
    print(f"\nistioctl side by side on {len(objs)} mutated objects: {len(refused_theirs)} refused by both, "
          f"{sum(theirs.values())} messages from istioctl, {len(objs) - len(by_name)}/{len(objs)} objects agree")
    assert len(refused_theirs) > 30 and sum(theirs.values()) > 40, "the mutations must give istioctl plenty to say"
    assert not by_name, "\n".join(f"{k}: {v} {next(o for o in objs if o['metadata']['name'] == k.split('/')[-1])}"
                                   for k, v in sorted(by_name.items()))


def test_seeded_sandbox_mesh_side_by_side(istioctl, tmp_path):
    from mesh_plugin.sandbox.seed import istio_control_plane, production

    objs, _ = production()
    (tmp_path / "mesh.yaml").write_text(yaml.safe_dump_all(istio_control_plane() + objs))
    theirs, ours, ours_default = _compare(istioctl, ["mesh.yaml"], None, tmp_path)
    print(f"\nistioctl side by side on the seeded mesh: istioctl {sum(theirs.values())} IST messages, "
          f"ours {sum(ours.values())} (files as istioctl reads them), {sum(ours_default.values())} (default)")
    assert theirs == ours, f"istioctl only {theirs - ours}, ours only {ours - theirs}"
    assert not theirs - ours_default
    assert theirs, "the seeded mesh has deliberate misconfigurations: istioctl must report some"
