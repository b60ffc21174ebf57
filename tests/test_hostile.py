"""Hostile input: random arguments thrown at every tool's schema end in a clean, typed error or an answer;
never a crash, never a change to the cluster."""
from __future__ import annotations

import inspect

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesh_plugin.errors import InternalError, MeshError
from mesh_plugin.runtime import configure
from mesh_plugin.tools import load_tools

NASTY = st.sampled_from(["", "-", "--help", "../../etc/passwd", "a/b", "production", "payment-api", "x" * 300,
                         "'; DROP TABLE", "app=x,version in (v1)", '"} or vector(1)', "\u0000", "ünïcode", "*", "1e9",
                         "production/payment-api-v1", "/etc/hostname", "STRICT", "GET", "a\nb: c", "x\r\n---\ny: 1",
                         "mtls", "split", "overview", "{{7*7}}", "${jndi:x}"])
VALUES = st.recursive(st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.floats(allow_nan=True) | NASTY
                      | st.text(max_size=20),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                  max_size=3), max_leaves=6)
TOOLS = load_tools()


@pytest.fixture(scope="module")
def hostile_cluster(tmp_path_factory):
    import os

    from mesh_plugin.sandbox import Sandbox

    os.environ["MESH_PLUGIN_STATE_DIR"] = str(tmp_path_factory.mktemp("state"))
    sb = Sandbox(envoy=False).start()
    configure(sb.kubeconfig, "sandbox", timeout=3)
    yield sb
    sb.stop()


@pytest.mark.parametrize("tool", TOOLS, ids=[t.name for t in TOOLS])
def test_random_arguments_give_clean_errors(tool, hostile_cluster):
    params = list(inspect.signature(tool.fn).parameters)  # the view/action parameter included
    rv_before = hostile_cluster.api.last_rv

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(st.dictionaries(st.sampled_from(params + ["unexpected"]), VALUES, max_size=5))
    def run(args):
        args.pop("apply", None)  # random input never applies: the dry-run path is what we probe
        args.pop("force", None)
        try:
            out = tool.call(**args)
        except MeshError as e:  # typed, with a next step, bounded, and not a bug of ours
            text = str(e)
            assert not isinstance(e, InternalError), (args, text)
            assert "Traceback" not in text and len(text) < 8_000 and ("Next:" in text or "unexpected" not in args)
            return
        assert out.model_dump_json()

    run()
    assert hostile_cluster.api.last_rv == rv_before, "random input changed the cluster"
