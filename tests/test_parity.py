"""Issue 20: one declaration per tool. tools/list, the chat's tool definitions and the CLI come from the
operations' signatures; this keeps them, and the README, in step, and the model-visible tool context small."""
from __future__ import annotations

import argparse
import json
import re
import shlex
from pathlib import Path

import pytest

from mesh_plugin.cli import ALIASES, build_parser
from mesh_plugin.tools.registry import TOOLS, load_operations, load_tools

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
#: what a client hands the model per tool: name, description and inputSchema (JSON as json.dumps writes it)
BUDGET = 16_000


def model_visible(read_only: bool = False) -> int:
    return sum(len(json.dumps({"name": t.name, "description": t.description, "inputSchema": t.input_schema()}))
               for t in load_tools(read_only=read_only))


def test_few_tools_and_a_small_tool_context():
    tools = load_tools()
    assert len(tools) <= 12 and [t.name for t in tools] == list(TOOLS)
    size = model_visible()
    print(f"model-visible tools/list: {len(tools)} tools, {size} bytes")
    assert size <= BUDGET, size


def test_reads_and_writes_never_mix():
    for t in load_tools():
        assert all(o.read_only == t.read_only for o in t.operations)
    assert {t.name for t in load_tools(read_only=True)} == {t.name for t in load_tools() if t.read_only}


def test_every_input_property_is_described_and_the_schema_is_closed():
    for t in load_tools():
        schema = t.input_schema()
        assert schema["additionalProperties"] is False, t.name
        for name, prop in schema["properties"].items():
            assert prop.get("description"), f"{t.name}.{name} has no description"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _command(words: list[str]) -> argparse.ArgumentParser | None:
    parser = build_parser()
    for w in words:
        sub = _subparsers(parser)
        if w not in sub:
            return parser if parser is not build_parser() else None
        parser = sub[w]
    return parser


def test_every_parameter_is_reachable_from_the_cli():
    for o in load_operations():
        for command in o.cli:
            parser = _command(command.split())
            assert parser is not None, command
            dests = {a.dest.removesuffix("__flag") for a in parser._actions} | {
                a.dest[2:].partition(".")[0].partition("=")[0].removesuffix("...") for a in parser._actions
                if a.dest.startswith("x:")}
            missing = set(o.params()) - dests
            assert not missing, (command, missing)


def test_readme_names_every_tool_view_and_command():
    for t in load_tools():
        assert f"`{t.name}`" in README, t.name
        for o in t.operations:
            if o.view:
                assert f"`{o.view}`" in README, (t.name, o.view)
            if o.cli:  # its command (aliases, such as pc, may go unmentioned)
                assert f"mesh-plugin {o.cli[0]}" in README, o.cli[0]
    for alias in ALIASES:
        assert f"mesh-plugin {alias}" in README


def test_readme_cli_lines_parse():
    """Each `mesh-plugin ...` example in the README's tool table names a real command with real flags."""
    table = README[README.index("## Tools"):README.index("Every tool has typed input")]
    examples = [e for e in re.findall(r"`mesh-plugin ([^`]+)`", table) if e[:1].isalpha()]
    assert len(examples) > 30
    for ex in examples:
        words = [w for w in shlex.split(ex.replace("\\|", "|")) if not re.match(r"^[\[\(]", w)]
        parser = build_parser()
        path = []
        while words and words[0] in _subparsers(parser):
            path.append(words[0])
            parser = _subparsers(parser)[words.pop(0)]
        assert path, ex
        flags = {s for a in parser._actions for s in a.option_strings}
        for flag in re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)", ex):
            assert flag in flags, (ex, flag)


def test_cli_is_generated_not_written():
    lines = (ROOT / "src/mesh_plugin/cli.py").read_text().splitlines()
    assert len(lines) <= 400, len(lines)


def test_pod_namespace_is_split_at_the_last_dot():
    from mesh_plugin.cli import _arguments
    from mesh_plugin.tools.registry import get_tool

    o = get_tool("proxy_health")
    args = build_parser().parse_args(["proxy-health", "web-7d4b9.v2-6f8c.shop"])
    assert _arguments(args, o) == {"pod": "web-7d4b9.v2-6f8c", "namespace": "shop"}


@pytest.mark.parametrize("argv,expected", [
    (["traffic", "split", "reviews", "v1=90", "v2=10", "-n", "production", "--diff", "-f", "x.yaml"],
     {"host": "reviews", "weights": {"v1": 90, "v2": 10}, "namespace": "production", "show_diff": True,
      "files": ["x.yaml"]}),
    (["set-pool", "reviews", "tcp.maxConnections=100", "http.http2MaxRequests=1000"],
     {"host": "reviews", "settings": {"tcp": {"maxConnections": 100}, "http": {"http2MaxRequests": 1000}}}),
    (["failure-accrual", "reviews", "-n", "prod", "--max-failures", "5"],
     {"host": "reviews", "namespace": "prod", "settings": {"maxFailures": "5"}}),
    (["authz", "check", "--to", "ns/w", "--from-namespace", "a", "--from-sa", "b", "--plaintext", "--header",
      "x=1"], {"to": "ns/w", "caller": {"namespace": "a", "sa": "b", "plaintext": True},
               "request": {"headers": {"x": 1}}}),
    (["analyze", "a.yaml", "-f", "b.yaml", "--meshConfigFile", "m.yaml", "-S", "IST0102=Namespace *"],
     {"files": ["a.yaml", "b.yaml"], "mesh_config_file": "m.yaml", "suppress": ["IST0102=Namespace *"],
      "limit": 500}),
    (["install", "plan", "istio", "--set", "meshConfig.accessLogFile=/dev/stdout", "--no-gateway"],
     {"mesh": "istio", "values": {"meshConfig": {"accessLogFile": "/dev/stdout"}}, "gateway": False}),
])
def test_cli_arguments_map_onto_the_signature(argv, expected):
    from mesh_plugin.cli import _arguments
    from mesh_plugin.tools.registry import get_tool

    args = build_parser().parse_args(argv)
    kwargs = _arguments(args, get_tool(args.operation))
    if args.operation == "analyze":
        kwargs.setdefault("limit", 500)
    assert kwargs == expected


def test_layers_import_one_way():
    """Sources (kube/, envoy/, metrics/) import no mesh logic; mesh logic (mesh/, analyzers/) and changes/
    import no surface (tools/, server, cli, agent/, prompts, demo), nor the tool output models and their paging
    (models.py): mesh/ returns plain records, the tools page them and build their models (issue 20)."""
    import ast

    pkg = ROOT / "src/mesh_plugin"
    order = {"kube": 0, "envoy": 0, "metrics": 0, "mesh": 1, "analyzers": 1, "changes": 2,
             "models": 3, "tools": 3, "server": 3, "cli": 3, "agent": 3, "prompts": 3, "demo": 3}
    bad = []
    for f in pkg.rglob("*.py"):
        rel = f.relative_to(pkg).with_suffix("").parts
        layer = rel[0]
        if layer not in order:
            continue
        package = ["mesh_plugin", *rel[:-1]]  # the module's package, for relative imports
        for node in ast.walk(ast.parse(f.read_text())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom):
                base = package[:len(package) - node.level + 1] if node.level else []
                names = [".".join([*base, node.module]) if node.module else ".".join(base)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            for name in names:
                parts = name.split(".")
                if parts[0] == "mesh_plugin" and len(parts) > 1 and order.get(parts[1], -1) > order[layer]:
                    bad.append(f"{'/'.join(rel)} imports {name}")
    assert not bad, bad


def test_mesh_logic_builds_no_output_models():
    """mesh/ and analyzers/ return plain records (dataclasses, dicts): no module there imports pydantic or declares
    a pydantic model; the tools declare their output models and build them from the records (issue 20)."""
    import ast

    pkg = ROOT / "src/mesh_plugin"
    bad = []
    for layer in ("mesh", "analyzers"):
        for f in sorted((pkg / layer).rglob("*.py")):
            rel = f.relative_to(pkg).as_posix()
            for node in ast.walk(ast.parse(f.read_text())):
                if isinstance(node, ast.ImportFrom) and not node.level and (node.module or "").split(".")[0] in (
                        "pydantic", "pydantic_core"):
                    bad.append(f"{rel}:{node.lineno} imports {node.module}")
                elif isinstance(node, ast.Import):
                    bad += [f"{rel}:{node.lineno} imports {a.name}" for a in node.names
                            if a.name.split(".")[0] in ("pydantic", "pydantic_core")]
                elif isinstance(node, ast.ClassDef):
                    for base in node.bases:
                        name = base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", "")
                        if name in ("BaseModel", "RootModel"):
                            bad.append(f"{rel}:{node.lineno} class {node.name}({name})")
    assert not bad, bad
    # and at run time: no class of a mesh/ or analyzers/ module is a pydantic model
    import importlib

    from pydantic import BaseModel

    for layer in ("mesh", "analyzers"):
        for f in sorted((pkg / layer).rglob("*.py")):
            parts = f.relative_to(pkg).with_suffix("").parts
            name = ".".join(["mesh_plugin", *(parts[:-1] if parts[-1] == "__init__" else parts)])
            mod = importlib.import_module(name)
            bad += [f"{name}.{k}" for k, v in vars(mod).items() if isinstance(v, type) and issubclass(v, BaseModel)
                    and v.__module__ == name]
    assert not bad, bad
