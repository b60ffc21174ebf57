"""Istio's full analyzer test grid (tests/data/istio-analyze-grid, see its SOURCE.md), case by case and via
its runner. Cases in KNOWN-DIFFERENCES.md are strict expected failures: each must still fail, for the
reason written there, and leaves the list the day it passes."""
from __future__ import annotations

import collections
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
GRID = ROOT / "data/istio-analyze-grid"
_spec = importlib.util.spec_from_file_location("istio_analyze_grid", GRID / "run_grid.py")
grid = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules["istio_analyze_grid"] = grid
_spec.loader.exec_module(grid)  # type: ignore[union-attr]

CASES = grid.CASES
KNOWN = grid.known_differences()


def _param(case: dict):
    marks = [pytest.mark.xfail(strict=True, reason=KNOWN[case["id"]])] if case["id"] in KNOWN else []
    return pytest.param(case, id=case["id"], marks=marks)


def test_the_grid_is_istios_whole_grid():
    """Every case of analyzers_test.go and multicluster_analyzers_test.go at the pin, every input file there."""
    assert len(CASES) == 104 and len({c["id"] for c in CASES}) == 104
    assert sum(len(c["expected"]) for c in CASES) == 220
    for case in CASES:
        for f in case["inputFiles"] + [x for x in (case["meshConfigFile"], case["meshNetworksFile"]) if x]:
            assert (GRID / f).is_file(), f
    assert set(KNOWN) <= {c["id"] for c in CASES}, "KNOWN-DIFFERENCES.md names a case that does not exist"


def test_every_grid_analyzer_is_registered():
    from mesh_plugin.analyzers import BY_NAME, ISTIO, OPTIONAL

    for case in CASES:
        assert case["analyzer"] in BY_NAME, case["analyzer"]
        if not case["skipAll"]:
            assert BY_NAME[case["analyzer"]] in ISTIO
        else:
            assert BY_NAME[case["analyzer"]] in OPTIONAL


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_istio_grid_case(case):
    o = grid.evaluate(case)
    assert o.error is None, o.error
    got = collections.Counter(g[:3] for g in o.got)
    assert got == grid.expected_counter(case), f"missing {o.missing}, unexpected {o.unexpected}"
    assert o.ok, f"namespace differs: missing {o.missing}, unexpected {o.unexpected}"


def test_runner_totals():
    """The runner's last line: every case passes but the known differences."""
    r = subprocess.run([sys.executable, str(GRID / "run_grid.py")], capture_output=True, text=True, timeout=600)
    lines = r.stdout.strip().splitlines()
    assert lines[-1] == f"{len(CASES) - len(KNOWN)} passed, {len(KNOWN)} failed", r.stdout[-3000:] + r.stderr[-2000:]
    failing = {ln.split(" [", 1)[0].removeprefix("FAIL (known difference) ") for ln in lines
               if ln.startswith("FAIL (known difference) ")}
    assert failing == set(KNOWN)
    assert not [ln for ln in lines if ln.startswith("FAIL ") and not ln.startswith("FAIL (known difference)")]


def test_cases_json_is_what_convert_py_makes(tmp_path):
    """cases.json is generated from the Go test source (when the pinned module is present)."""
    src = grid.HERE / "convert.py"
    module = Path("/root/go/pkg/mod/istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad")
    if not module.is_dir():
        pytest.skip(f"the pinned Istio module is not in the Go module cache ({module})")
    work = tmp_path / "grid"
    work.mkdir()
    (work / "convert.py").write_text(src.read_text())
    r = subprocess.run([sys.executable, str(work / "convert.py"), str(module)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads((work / "cases.json").read_text()) == CASES
    for folder in ("testdata", "validation"):
        made = sorted(f.relative_to(work / folder) for f in (work / folder).rglob("*.yaml"))
        assert made == sorted(f.relative_to(GRID / folder) for f in (GRID / folder).rglob("*.yaml"))
        for f in made:
            assert (GRID / folder / f).read_bytes() == (work / folder / f).read_bytes()


def test_istio_schema_is_the_pinned_crds():
    """analyzers/istio_schema.py is decode.compact_schema of the pinned Istio CRDs (when the module is present)."""
    import yaml

    from mesh_plugin.analyzers.decode import compact_schema
    from mesh_plugin.analyzers.istio_schema import SCHEMA

    crds = Path("/root/go/pkg/mod/istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad/manifests/charts/base/files/"
                "crd-all.gen.yaml")
    if not crds.is_file():
        pytest.skip(f"the pinned Istio module is not in the Go module cache ({crds})")
    made = {d["spec"]["names"]["kind"]: compact_schema(d["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
                                                       ["properties"].get("spec"))
            for d in yaml.safe_load_all(crds.read_text()) if d}
    assert made == SCHEMA


def test_declared_inputs_are_what_analyzers_read():
    """As Istio's CheckMetadataInputs: over the grid, each analyzer reads exactly the kinds it declares (they are
    what a live analysis LISTs, and what decides which analyzers run on files as istioctl reads them)."""
    from mesh_plugin.analyzers import BY_NAME, Context, run
    from mesh_plugin.analyzers.runner import default_resources
    from mesh_plugin.kube.snapshot import Snapshot
    from mesh_plugin.tools.analyze import load_mesh_config

    class Recording(Context):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.read: set[str] = set()

        def _all(self, key):
            self.read.add(key)
            return super()._all(key)

        def of(self, key, namespace=None):
            self.read.add(key)
            return super().of(key, namespace)

    read: dict[str, set[str]] = {}
    for case in CASES:
        if case.get("clusters"):
            continue
        snap = Snapshot.from_paths([str(GRID / f) for f in case["inputFiles"]])
        mesh = load_mesh_config(snap, str(GRID / case["meshConfigFile"]) if case["meshConfigFile"] else None)
        for obj in default_resources(mesh):
            snap.add(obj)
        ctx = Recording(snap, mesh)
        run(ctx, [BY_NAME[case["analyzer"]]])
        read.setdefault(case["analyzer"], set()).update(ctx.read)
    for name, kinds in sorted(read.items()):
        declared = set(BY_NAME[name].inputs) - {"MeshConfig", "MeshNetworks"}  # the mesh config is not a kind
        assert kinds == declared, f"{name} declares {sorted(declared)} but reads {sorted(kinds)}"


def test_secret_facts_keep_no_value():
    """IST0161 needs a certificate's validity, not the Secret's values: the snapshot keeps the key names, the
    empty keys and each certificate key's dates or parse error, and nothing of any value."""
    import base64
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from mesh_plugin.analyzers.gateway_secret import valid_secret
    from mesh_plugin.kube.snapshot import Snapshot

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "shop.example.com")])
    now = dt.datetime.now(dt.timezone.utc)

    def cert(days: int) -> str:
        c = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
             .serial_number(7).not_valid_before(now - dt.timedelta(days=30))
             .not_valid_after(now + dt.timedelta(days=days)).sign(key, hashes.SHA256()))
        return base64.b64encode(c.public_bytes(serialization.Encoding.PEM)).decode()

    pem_key = base64.b64encode(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption())).decode()

    def secret(name: str, data: dict) -> str:
        return json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "istio-system"},
                           "type": "kubernetes.io/tls", "data": data})

    text = "\n---\n".join([secret("good", {"tls.crt": cert(60), "tls.key": pem_key}),
                           secret("expired", {"tls.crt": cert(-1), "tls.key": pem_key}),
                           secret("not-pem", {"cert": base64.b64encode(b"hello").decode(), "key": pem_key}),
                           secret("empty", {"tls.crt": "", "tls.key": pem_key})])
    snap = Snapshot.from_text(text)
    by = {s["metadata"]["name"]: s for s in snap.of("Secret")}
    assert [n for n in ("good", "expired", "not-pem", "empty") if valid_secret(by[n])] == ["good"]
    assert by["not-pem"]["certificates"] == {"cert": {"error": "pem decode failed"}}
    assert by["empty"]["dataEmpty"] == ["tls.crt"] and "certificates" not in by["empty"]
    dumped = json.dumps(list(by.values()))
    assert "data" not in by["good"] and pem_key not in dumped and "PRIVATE" not in dumped
    assert not any(v[:40] in dumped for v in (cert(60), pem_key))


def test_secret_facts_are_bounded_work():
    """A Secret full of PEM BEGIN lines without their END costs a bounded search, not one scan per line."""
    import base64
    import time

    from mesh_plugin.kube.snapshot import Snapshot

    junk = base64.b64encode(b"-----BEGIN X-----\n" * 55_000).decode()  # ~1 MB, no END anywhere
    t0 = time.process_time()
    snap = Snapshot.from_text(json.dumps({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                                          "data": {"tls.crt": junk, "tls.key": "eA=="}}))
    spent = time.process_time() - t0
    assert snap.of("Secret")[0]["certificates"] == {"tls.crt": {"error": "pem decode failed"}}
    assert spent < 5, spent  # quadratic scanning took minutes; this is a bound on work, not a speed goal
