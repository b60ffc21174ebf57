"""The change path's rollback handles (issue 21): they compare content, so rolling back a later change and then
an earlier one works, a chain of rollbacks restores the original, and a handle whose object moved on since is
refused rather than clobbering the newer change."""
from __future__ import annotations

import pytest

from mesh_plugin.errors import Conflict
from mesh_plugin.kube import KINDS, KubeClient
from mesh_plugin.runtime import configure
from mesh_plugin.tools import get_tool


@pytest.fixture()
def cluster(fresh_sandbox, tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_PLUGIN_STATE_DIR", str(tmp_path / "state"))
    configure(fresh_sandbox.kubeconfig, "sandbox")
    return KubeClient.connect(fresh_sandbox.kubeconfig)


def weights(c: KubeClient) -> dict[str, int]:
    vs = c.get(KINDS["VirtualService"], "payment-api", "production")
    return {d["destination"]["subset"]: d["weight"] for d in vs["spec"]["http"][0]["route"]}


def split(v1: int, v2: int) -> str:
    r = get_tool("set_traffic_split").call(host="payment-api", weights={"v1": v1, "v2": v2}, namespace="production",
                                           apply=True, confirm="production")
    assert r.changes[0].applied
    return r.changes[0].rollback_handle


def rollback(handle: str, apply: bool = True):
    return get_tool("rollback_change").call(handle=handle, apply=apply, confirm="production")


def test_later_then_earlier_rollback_restores_the_original(cluster):
    original = cluster.get(KINDS["VirtualService"], "payment-api", "production")["spec"]
    assert weights(cluster) == {"v1": 90, "v2": 10}
    first = split(80, 20)
    second = split(50, 50)
    dry = rollback(second, apply=False)
    assert not dry.applied and "weight: 50" in dry.diff and "weight: 80" in dry.diff
    assert weights(cluster) == {"v1": 50, "v2": 50}  # a dry-run changes nothing
    assert rollback(second).applied and weights(cluster) == {"v1": 80, "v2": 20}
    assert rollback(first).applied and weights(cluster) == {"v1": 90, "v2": 10}
    assert cluster.get(KINDS["VirtualService"], "payment-api", "production")["spec"] == original


def test_an_earlier_handle_is_refused_while_a_later_change_stands(cluster):
    first = split(80, 20)
    split(50, 50)
    with pytest.raises(Conflict) as e:
        rollback(first)
    assert "changed" in e.value.message and e.value.hint
    assert weights(cluster) == {"v1": 50, "v2": 50}  # the newer change is not clobbered


def test_a_rollback_is_itself_rolled_back(cluster):
    first = split(70, 30)
    back = rollback(first)
    assert back.applied and weights(cluster) == {"v1": 90, "v2": 10} and back.rollback_handle
    assert rollback(back.rollback_handle).applied and weights(cluster) == {"v1": 70, "v2": 30}


def test_content_not_resource_version_decides(cluster):
    """istiod writes the status of the objects it reads (validation messages, observedGeneration): that bumps
    resourceVersion but not the content, so the handle still applies. A content edit is refused."""
    first = split(60, 40)
    vs = cluster.get(KINDS["VirtualService"], "payment-api", "production")
    rv = vs["metadata"]["resourceVersion"]
    vs["status"] = {"observedGeneration": 2, "validationMessages": [{"type": {"code": "IST0106"}}]}
    cluster.replace(KINDS["VirtualService"], vs)
    assert cluster.get(KINDS["VirtualService"], "payment-api", "production")["metadata"]["resourceVersion"] != rv
    assert rollback(first).applied and weights(cluster) == {"v1": 90, "v2": 10}

    second = split(60, 40)
    vs = cluster.get(KINDS["VirtualService"], "payment-api", "production")
    vs["metadata"].setdefault("annotations", {})["example.com/owner"] = "team-payments"
    cluster.replace(KINDS["VirtualService"], vs)
    with pytest.raises(Conflict, match="content differs"):
        rollback(second)  # restoring the old object would drop someone's annotation
