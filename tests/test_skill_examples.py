"""The YAML examples in the skill docs are clean for our own `analyze`."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from mesh_plugin.tools.analyze import run_analysis

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "skills").rglob("*.md"))
BASE = Path(__file__).resolve().parent / "data" / "skill-base.yaml"


def yaml_blocks(path: Path) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", path.read_text(), re.S)


def test_the_docs_have_examples():
    assert sum(len(yaml_blocks(p)) for p in DOCS) >= 8


@pytest.mark.parametrize("doc", [p for p in DOCS if yaml_blocks(p)], ids=lambda p: p.name)
def test_examples_are_clean(doc, tmp_path):
    for i, block in enumerate(yaml_blocks(doc)):
        f = tmp_path / f"example-{i}.yaml"
        f.write_text(block)
        msgs, _, snap, _ = run_analysis([str(BASE), str(f)], None, None, None, None)
        assert snap.objects, f"{doc.name} example {i} has no Kubernetes objects"
        assert [m.line() for m in msgs] == [], f"{doc.name} example {i}"
