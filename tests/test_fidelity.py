"""The fidelity bench (bench/fidelity.py) at a small N: our mTLS, routing, resilience, proxy-config,
authorization, Gateway API and ambient answers against Istio's own (istiod's config generator and simulation, its
workload xDS for ztunnel, istioctl, a real Envoy running istiod's filters) on seeded, generated meshes. Fails on
any disagreement that tests/data/fidelity/KNOWN-DIFFERENCES.md does not list with its reason.

Also checks the bench itself can fail: a corrupted oracle answer must be reported, a listed key counted apart."""
from __future__ import annotations

import json
import random
import sys
from pathlib import Path

import pytest

from oracle import require_oracle

pytestmark = pytest.mark.oracle

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

#: cases per CI run (2 workers: about 25 s on an idle 2-core machine); bench/fidelity.py --cases 1000 is the full run
CASES = 20


def test_generator_is_deterministic_and_varied():
    import meshgen

    a, b = meshgen.generate(7, 1), meshgen.generate(7, 1)
    assert a == b
    assert meshgen.generate(8, 1) != a
    kinds = {o["kind"] for seed in range(1, 40) for o in meshgen.generate(seed, 2)}
    assert {"Namespace", "Pod", "Service", "VirtualService", "DestinationRule", "PeerAuthentication",
            "AuthorizationPolicy", "RequestAuthentication", "Sidecar", "Gateway", "ServiceEntry"} <= kinds
    actions = {(o["spec"].get("action") or "ALLOW") for seed in range(1, 40) for o in meshgen.generate(seed, 2)
               if o["kind"] == "AuthorizationPolicy"}
    assert actions == {"ALLOW", "DENY", "AUDIT", "CUSTOM"}


def test_gateway_api_and_ambient_variants_are_deterministic_and_varied():
    """The variants add to the base mesh with their own random streams (the base objects stay as generated)."""
    import meshgen

    base = meshgen.generate(7, 1)
    assert meshgen.gateway_api(7, base) == meshgen.gateway_api(7, meshgen.generate(7, 1))
    assert meshgen.ambient(7, base) == meshgen.ambient(7, meshgen.generate(7, 1))
    assert base == meshgen.generate(7, 1)
    gw = [o for seed in range(1, 40) for o in meshgen.gateway_api(seed, meshgen.generate(seed, 1))]
    assert {"HTTPRoute", "ReferenceGrant", "Gateway"} <= {o["kind"] for o in gw}
    parents = {p.get("kind", "Gateway") for o in gw if o["kind"] == "HTTPRoute" for p in o["spec"]["parentRefs"]}
    assert parents == {"Service", "Gateway"}
    rules = [r for o in gw if o["kind"] == "HTTPRoute" for r in o["spec"]["rules"]]
    weights = {b.get("weight") for r in rules for b in r["backendRefs"]}
    assert {0, None} <= weights and len(weights) > 4
    assert any("timeouts" in r for r in rules) and any("retry" in r for r in rules)
    assert any(f["type"] == "RequestMirror" for r in rules for f in r.get("filters", []))
    assert {k for r in rules for m in r.get("matches", []) for k in m} == {"path", "headers", "method"}
    amb = [o for seed in range(1, 40) for o in meshgen.ambient(seed, meshgen.generate(seed, 1))]
    labels = [o["metadata"].get("labels") or {} for o in amb]
    assert {"ambient", "none"} <= {lb.get("istio.io/dataplane-mode") for lb in labels}
    assert {o["kind"] for o in amb if "istio.io/use-waypoint" in (o["metadata"].get("labels") or {})} == {
        "Namespace", "Service", "Pod"}
    assert any(o["kind"] == "Gateway" and o["spec"]["gatewayClassName"] == "istio-waypoint" for o in amb)
    assert {o["spec"].get("action", "ALLOW") for o in amb if o["kind"] == "AuthorizationPolicy"
            and "targetRefs" in o["spec"]} == {"ALLOW", "DENY", "AUDIT", "CUSTOM"}


def test_minted_tokens_verify_against_the_generated_jwks():
    import base64

    import meshgen
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

    iss = meshgen.ISSUERS[0]
    token = meshgen.mint_jwt(iss, {"iss": iss, "sub": "alice"})
    head, body, sig = token.split(".")
    raw = base64.urlsafe_b64decode(sig + "==")
    jwk = json.loads(meshgen.jwks(iss))["keys"][0]
    x = int.from_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="), "big")
    y = int.from_bytes(base64.urlsafe_b64decode(jwk["y"] + "=="), "big")
    pub = ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    pub.verify(der, f"{head}.{body}".encode(), ec.ECDSA(hashes.SHA256()))  # raises when the keys disagree


def test_fidelity_small_n(tmp_path):
    """Every capability agrees with Istio on CASES seeded meshes (or the difference is a listed oracle limit)."""
    require_oracle()
    import fidelity

    report = tmp_path / "report.json"
    rc = fidelity.main(["--cases", str(CASES), "--seed", "1", "--jobs", "2", "--chunk", str(CASES // 2),
                        "--out", str(tmp_path / "cases"), "--json", str(report), "--check"])
    data = json.loads(report.read_text())
    unknown = data["disagreements"]
    assert rc == 0 and not unknown, json.dumps(unknown[:10], indent=1, default=str)
    for cap in fidelity.CAPABILITIES:
        t = data["table"][cap]
        # gateway-api skips a mesh without an HTTP Service (nothing for an HTTPRoute to route)
        assert (t["cases"] == CASES or cap == "gateway-api" and t["cases"] >= CASES // 2) and t["comparisons"] > 0, (
            cap, t)


def test_the_bench_reports_a_corrupted_oracle_answer(tmp_path):
    """Flip one sidecar's inbound chains to plaintext-only in the oracle's dump: the mtls comparison must
    disagree; and a key listed in KNOWN-DIFFERENCES.md is counted apart, an unlisted one is not."""
    require_oracle()
    import fidelity

    case = fidelity.Case(3, 1, tmp_path / "case")
    proxy = next(p for p in case.sidecars() if fidelity.chain_modes(case.dump(p)).get(0) != "DISABLE")
    dump = case.dump(proxy)
    li = fidelity.dump_listeners(dump)["virtualInbound"]
    li["filterChains"] = [fc for fc in li["filterChains"]
                          if (fc.get("filterChainMatch") or {}).get("transportProtocol") != "tls"]
    for fc in li["filterChains"]:
        (fc.setdefault("filterChainMatch", {}))["transportProtocol"] = "raw_buffer"
    res = fidelity.check_mtls(case, random.Random(1))
    keys = {d.key for d in res.diffs}
    assert "workload-mode" in keys or "port-mode" in keys, keys
    results = [fidelity.CaseResult(3, {"mtls": res})]
    table = fidelity.summarize(results, ["mtls"], {})
    assert table["mtls"]["agree"] == 0
    known = {("mtls", k): "a test reason" for k in keys}
    table = fidelity.summarize(results, ["mtls"], known)
    assert table["mtls"]["agree"] == 1 and table["mtls"]["agree_by_known"] == 1


def test_the_bench_reports_corrupted_gateway_api_and_ambient_answers(tmp_path, monkeypatch):
    """istiod's RDS with every route's timeout changed, its ztunnel workloads with the tunnel protocol flipped: the
    gateway-api and ambient comparisons must disagree."""
    require_oracle()
    import contextlib

    import fidelity
    import oracle

    real_dump, real_serve = oracle.dump_files, oracle.serve

    def dump_files(*a, **k):
        summary = real_dump(*a, **k)
        for info in summary["proxies"].values():
            f = Path(info["file"])
            dump = json.loads(f.read_text())
            for rc in fidelity.dump_routes(dump).values():
                for vh in rc.get("virtualHosts") or []:
                    for r in vh.get("routes") or []:
                        if "route" in r:
                            r["route"]["timeout"] = "99s"
            f.write_text(json.dumps(dump))
        return summary

    @contextlib.contextmanager
    def serve(*a, **k):
        with real_serve(*a, **k) as s:
            get = s.get_json

            def corrupted(path):
                z = get(path)
                for x in z["addresses"]:
                    w = x["resource"].get("workload")
                    if w:
                        w["tunnelProtocol"] = "TCP" if w.get("tunnelProtocol") == "HBONE" else "HBONE"
                return z

            s.get_json = corrupted
            yield s

    monkeypatch.setattr(oracle, "dump_files", dump_files)
    monkeypatch.setattr(oracle, "serve", serve)
    case = fidelity.Case(1, 1, tmp_path / "case")
    assert "timeout" in {d.key for d in fidelity.check_gateway_api(case, random.Random(1)).diffs}
    assert "workload-hbone" in {d.key for d in fidelity.check_ambient(case, random.Random(1)).diffs}


def test_known_differences_file_is_well_formed():
    import fidelity

    assert fidelity.KNOWN_FILE.exists()
    known = fidelity.load_known()
    for (cap, key), reason in known.items():
        assert cap in fidelity.CAPABILITIES and key and len(reason) > 20, (cap, key, reason)
