"""A Snapshot: the objects one question needs, loaded once.

From a cluster: one LIST per kind (paginated), kinds whose API is absent are
empty and recorded in ``absent``. From files: YAML/JSON files, folders and
multi-document streams (offline mode), loaded safely; a file that does not
parse is recorded in ``errors`` and the others still load.

Secret values never enter a Snapshot: ``data`` and ``stringData`` are replaced
by the list of their keys on load (``dataKeys``), the keys whose value is empty
(``dataEmpty``) and, for a certificate key, its validity dates or parse error
(``certificates``): what gateway.SecretAnalyzer needs, nothing of a value.
"""
from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput, MeshError, NotFound
from .kinds import KINDS, Kind, get_kind, kind_for

MAX_FILE_BYTES = 32 * 1024 * 1024
#: bounds of one YAML load (see safe_load_all)
MAX_ALIASES = 10_000
MAX_ALIAS_NODES = 1_000_000
MAX_NODES = 5_000_000
MAX_DOCUMENTS = 250_000
MAX_DEPTH = 200
YAML_SUFFIXES = (".yaml", ".yml", ".json")


@dataclass
class LoadError:
    source: str
    message: str


@dataclass
class Snapshot:
    objects: dict[str, list[dict]] = field(default_factory=dict)
    #: kinds whose API the cluster does not serve (CRD not installed)
    absent: set[str] = field(default_factory=set)
    #: files or kinds that could not be read (offline parse errors, forbidden kinds)
    errors: list[LoadError] = field(default_factory=list)
    #: "cluster <context>" or "files"
    source: str = ""
    namespace: str | None = None
    #: objects whose apiVersion/kind we do not model (offline only), as (source, obj)
    unknown: list[tuple[str, dict]] = field(default_factory=list)
    _default_ns: str | None = field(default=None, repr=False)
    _index: dict[str, tuple[int, dict[str, list[dict]]]] = field(default_factory=dict, repr=False)

    # -- access ------------------------------------------------------------------------------
    def of(self, key: str, namespace: str | None = None) -> list[dict]:
        items = self.objects.get(key, [])
        if namespace is None:
            return items
        index = self._index.get(key)
        if index is None or index[0] != len(items):  # built on first use, rebuilt when objects were added
            by_ns: dict[str, list[dict]] = {}
            for o in items:
                by_ns.setdefault(ns_of(o), []).append(o)
            index = self._index[key] = (len(items), by_ns)
        return index[1].get(namespace, [])

    def get(self, key: str, name: str, namespace: str | None = None) -> dict | None:
        for o in self.objects.get(key, []):
            m = o.get("metadata") or {}
            if m.get("name") == name and (namespace is None or m.get("namespace") == namespace):
                return o
        return None

    def namespaces(self) -> list[str]:
        """Namespace names: from Namespace objects, else from what the objects live in."""
        names = {name_of(n) for n in self.of("Namespace")}
        for items in self.objects.values():
            names.update(ns_of(o) for o in items if ns_of(o))
        return sorted(n for n in names if n)

    def counts(self) -> dict[str, int]:
        return {k: len(v) for k, v in sorted(self.objects.items()) if v}

    def add(self, obj: dict, kind: Kind | None = None, source: str = "", default_namespace: str | None = None) -> None:
        kind = kind or kind_for(str(obj.get("apiVersion", "")), str(obj.get("kind", "")))
        if kind is None:
            self.unknown.append((source, obj))
            return
        meta = obj.get("metadata")
        if not isinstance(meta, dict):
            meta = obj["metadata"] = {}
        if default_namespace and kind.namespaced and not meta.get("namespace"):
            meta["namespace"] = default_namespace  # as kubectl apply would place it
        self.objects.setdefault(kind.key, []).append(_scrub(kind, obj))

    # -- loading from a cluster ----------------------------------------------------------------
    @classmethod
    def from_cluster(cls, client: Any, keys: Iterable[str], namespace: str | None = None, *,
                     scope: dict[str, tuple[str | None, ...]] | None = None,
                     field_selectors: dict[str, str] | None = None) -> "Snapshot":
        """One LIST per kind. Cluster-scoped kinds are listed whole; the rest in ``namespace`` or all.

        ``scope``: kind -> the namespaces to LIST it in instead (one LIST each; None: every namespace).
        ``field_selectors``: kind -> a fieldSelector for its LISTs."""
        snap = cls(source=f"cluster {client.context or client.host}", namespace=namespace)
        for key in dict.fromkeys(keys):
            kind = get_kind(key)
            spaces = (scope or {}).get(key, (namespace,)) if kind.namespaced else (None,)
            fs = (field_selectors or {}).get(key)
            items: list[dict] = []
            try:
                for ns in dict.fromkeys(spaces):
                    try:
                        items += [_scrub(kind, o) for o in client.list_all(kind, ns, field_selector=fs)]
                    except NotFound:
                        if (not kind.group or kind.group in ("apps",)) and ns and key != "Namespace":
                            continue  # core kinds always exist: a 404 here means the namespace is missing
                        raise
                snap.objects[key] = items
            except NotFound:
                if not kind.group or kind.group in ("apps",):
                    raise
                snap.objects[key] = []
                snap.absent.add(key)
        return snap

    # -- loading from files -----------------------------------------------------------------
    @classmethod
    def from_paths(cls, paths: Iterable[str], *, stdin: Any = None, default_namespace: str | None = "default"
                   ) -> "Snapshot":
        """Load files, folders (recursively, .yaml/.yml/.json) and ``-`` for stdin.

        Namespaced objects without a namespace land in ``default_namespace``, as ``kubectl apply`` would.
        Every path, given or found in a folder, is checked by the runtime (``Runtime.check_path`` and
        ``Runtime.read_file``): with a files root set, a file whose real path is outside it (a symbolic
        link out of the folder) is skipped and recorded in ``errors``, by name only; symbolic links to
        folders are not followed.
        """
        from ..runtime import RUNTIME

        snap = cls(source="files")
        snap._default_ns = default_namespace
        for p in paths:
            if p == "-" and RUNTIME.files_root is None:
                text = (stdin or sys.stdin).read(MAX_FILE_BYTES + 1)
                if len(text) > MAX_FILE_BYTES:
                    snap.errors.append(LoadError("<stdin>", f"over the {MAX_FILE_BYTES} limit"))
                    continue
                snap._load_text(text, "<stdin>")
                continue
            p = RUNTIME.check_path(p)
            if not os.path.lexists(p):
                raise NotFound(f"No such file or folder: {_clip_path(p)}.", hint="pass existing YAML files or folders.")
            if os.path.isdir(p):
                for root, dirs, files in os.walk(p):  # followlinks=False: symlinked folders are not entered
                    for d in dirs:
                        full = os.path.join(root, d)
                        if os.path.islink(full) and not RUNTIME.inside_root(os.path.realpath(full)):
                            snap.errors.append(LoadError(full, "skipped: a symbolic link to a folder outside the "
                                                               "allowed folder"))
                    dirs[:] = sorted(d for d in dirs if not d.startswith(".")
                                     and not os.path.islink(os.path.join(root, d)))
                    for f in sorted(files):
                        if f.endswith(YAML_SUFFIXES):
                            snap._load_file(os.path.join(root, f))
            else:
                snap._load_file(p)
        return snap

    @classmethod
    def from_text(cls, text: str, source: str = "<text>", default_namespace: str | None = "default") -> "Snapshot":
        snap = cls(source="files")
        snap._default_ns = default_namespace
        snap._load_text(text, source)
        return snap

    def _load_file(self, path: str) -> None:
        from ..runtime import RUNTIME

        try:
            data = RUNTIME.read_file(path, max_bytes=MAX_FILE_BYTES, what="manifest")
            text = data.decode("utf-8")
        except MeshError as e:
            self.errors.append(LoadError(path, e.message))
            return
        except UnicodeDecodeError as e:
            self.errors.append(LoadError(path, f"cannot read: not UTF-8 text (byte {e.start})"))
            return
        self._load_text(text, path)

    def _load_text(self, text: str, source: str) -> None:
        try:
            docs = safe_load_all(text)
        except MeshError as e:
            self.errors.append(LoadError(source, e.message))
            return
        for i, doc in enumerate(docs):
            if doc is None:
                continue
            if not isinstance(doc, dict):
                self.errors.append(LoadError(source, f"document {i + 1} is not a mapping (a Kubernetes object)"))
                continue
            if str(doc.get("kind", "")).endswith("List") and isinstance(doc.get("items"), list):
                for item in doc["items"]:
                    if isinstance(item, dict):
                        self.add(item, source=source, default_namespace=self._default_ns)
                continue
            if not doc.get("kind") or not doc.get("apiVersion"):
                self.errors.append(LoadError(source, f"document {i + 1} has no apiVersion/kind"))
                continue
            self.add(doc, source=source, default_namespace=self._default_ns)


def safe_load_all(text: str) -> list[Any]:
    """Every document of a YAML (or JSON) stream, safely and with bounded work.

    Built from the parser's events (libyaml's, through ``yaml.CSafeLoader``, when PyYAML has it), with
    PyYAML's safe scalar constructors, so the values are those of ``yaml.safe_load_all``. No node graph
    is kept, and the load is refused, with a typed error, past any of these bounds:

    - ``MAX_ALIAS_NODES`` nodes added by aliases (a billion-laughs bomb): only the *extra* nodes an alias
      brings count, so a document without aliases is never an alias bomb; ``MAX_ALIASES`` aliases;
      recursive aliases;
    - ``MAX_NODES`` nodes and ``MAX_DOCUMENTS`` documents in all, which bound the time and memory of one
      load. Measured with bench/hostile_files.py (the whole CLI command, 2 shared cores): an 11 MB
      manifest of ordinary objects (1.25M nodes) in ~3 s and ~180 MB peak, a 31 MB one in ~6-10 s and
      ~430 MB, as one document per object or one ``kind: List``; a stream refused at ``MAX_NODES``
      costs ~4 s (short strings) to ~10 s (distinct numbers) and stays under ~450 MB;
    - ``MAX_DEPTH`` levels of nesting (Kubernetes objects, CRD schemas included, need a few dozen).
    """
    import yaml

    loader = _loader_class()(text)
    try:
        return _build(loader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        if "nesting depth" in str(problem):  # libyaml's own limit (1000 levels)
            raise InvalidInput(f"YAML nested too deeply{where} ({problem})",
                               hint="pass ordinary Kubernetes manifests (a few dozen levels at most).") from None
        raise InvalidInput(f"not valid YAML{where}: {_clip(str(problem), 150)}", hint="fix the YAML syntax.") from None
    except RecursionError:  # the pure-Python parser on a pathological stream; libyaml stops at 1000 levels
        raise InvalidInput(f"YAML nested more than {MAX_DEPTH} levels deep",
                           hint="pass ordinary Kubernetes manifests.") from None
    finally:
        loader.dispose()


def _loader_class() -> Any:
    import yaml

    return yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader


_MAP, _SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
_MERGE, _VALUE, _STR = "tag:yaml.org,2002:merge", "tag:yaml.org,2002:value", "tag:yaml.org,2002:str"
_INT = "tag:yaml.org,2002:int"
#: a plain decimal without a leading zero (YAML 1.1 reads 012 as octal), short enough to be cheap
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,17})").fullmatch
_IMMUTABLE = frozenset(f"tag:yaml.org,2002:{t}" for t in ("int", "float", "bool", "null"))


def _build(loader: Any) -> list[Any]:
    """Documents from the event stream, with an explicit stack (no recursion, whatever the depth)."""
    from yaml import events as ev
    from yaml.constructor import ConstructorError
    from yaml.nodes import MappingNode, ScalarNode, SequenceNode

    constructors = loader.yaml_constructors
    resolve = loader.resolve
    get_event = loader.get_event
    plain_tags: dict[str, str] = {}  # plain scalar -> its resolved tag (manifests repeat their keys and values)
    plain_values: dict[tuple[str, str], Any] = {}  # (tag, plain scalar) -> its (immutable) number, bool or null
    docs: list[Any] = []
    nodes = aliases = 0
    extra = 0  # nodes that aliases add, shared subtrees counted once per alias
    anchors: dict[str, tuple[Any, int]] = {}  # anchor -> (value, expanded node count); -1 while being built
    #: one frame per open collection: [value, is_mapping, pending key, have key, merges, anchor, start count, mark]
    stack: list[list[Any]] = []
    top: list[Any] | None = None
    root: list[Any] = []

    def bounded(what: str, hint: str) -> InvalidInput:
        return InvalidInput(f"YAML {what}: refused, to bound the work of one load", hint=hint)

    def put(value: Any, mark: Any) -> None:
        """Place a finished value in the open collection (or as the document)."""
        if top is None:
            root.append(value)
        elif not top[1]:
            top[0].append(value)
        elif not top[3]:
            try:
                hash(value)
            except TypeError:
                raise ConstructorError("while constructing a mapping", top[7], "found unhashable key", mark) from None
            top[2], top[3] = value, True
        else:
            key, top[2], top[3] = top[2], None, False
            if key is _MERGE_KEY:
                sources = value if isinstance(value, list) else [value]
                if not all(isinstance(x, dict) for x in sources):
                    raise ConstructorError("while constructing a mapping", top[7],
                                           "expected a mapping or list of mappings for merging", mark)
                top[4].extend(sources)
            else:
                top[0][key] = value

    Scalar, Alias = ev.ScalarEvent, ev.AliasEvent
    SeqStart, MapStart, SeqEnd, MapEnd = (ev.SequenceStartEvent, ev.MappingStartEvent, ev.SequenceEndEvent,
                                          ev.MappingEndEvent)
    while True:
        event = get_event()
        kind = event.__class__
        if kind is Scalar:
            nodes += 1
            tag = event.tag
            if tag is None or tag == "!":
                text = event.value
                if event.implicit[0] and len(text) <= 64:
                    tag = plain_tags.get(text)
                    if tag is None:
                        tag = resolve(ScalarNode, text, event.implicit)
                        if len(plain_tags) < 100_000:
                            plain_tags[text] = tag
                else:
                    tag = resolve(ScalarNode, text, event.implicit)
            in_key = top is not None and top[1] and not top[3]
            if tag == _STR:
                value: Any = event.value
            elif in_key and tag == _MERGE:
                value = _MERGE_KEY
            elif in_key and tag == _VALUE:
                value = event.value
            elif tag == _INT and _DECIMAL(event.value):  # what construct_yaml_int gives, faster
                value = int(event.value)
            elif (tag, event.value) in plain_values:
                value = plain_values[tag, event.value]
            else:
                if tag in (_MAP, _SEQ, "tag:yaml.org,2002:set", "tag:yaml.org,2002:omap",
                           "tag:yaml.org,2002:pairs"):
                    raise ConstructorError(None, None, f"expected a collection for the tag {_clip(tag)!r}, "
                                           "but found a scalar", event.start_mark)
                ctor = constructors.get(tag, constructors[None])
                try:
                    value = ctor(loader, ScalarNode(tag, event.value, event.start_mark, event.end_mark,
                                                    style=event.style))
                except (ValueError, TypeError, AttributeError, KeyError, ArithmeticError):  # !!int x, !!timestamp x
                    raise ConstructorError(None, None, f"{_clip(event.value)!r} is not a valid {_clip(tag)}",
                                           event.start_mark) from None
                if tag in _IMMUTABLE and len(plain_values) < 100_000:
                    plain_values[tag, event.value] = value
            if event.anchor is not None:
                anchors[event.anchor] = (value, 1)
            put(value, event.start_mark)
        elif kind is MapStart or kind is SeqStart:
            nodes += 1
            is_map = kind is MapStart
            tag = event.tag
            if tag is None or tag == "!":
                tag = resolve(MappingNode if is_map else SequenceNode, None, event.implicit)
            if tag != (_MAP if is_map else _SEQ):
                raise ConstructorError(None, None, f"could not determine a constructor for the tag {_clip(tag)!r} "
                                       "(only plain mappings and sequences are read)", event.start_mark)
            if len(stack) >= MAX_DEPTH:
                raise InvalidInput(f"YAML nested more than {MAX_DEPTH} levels deep",
                                   hint="pass ordinary Kubernetes manifests (a few dozen levels at most).")
            if event.anchor is not None:
                anchors[event.anchor] = (None, -1)
            top = [{} if is_map else [], is_map, None, False, [], event.anchor, nodes + extra, event.start_mark]
            stack.append(top)
        elif kind is MapEnd or kind is SeqEnd:
            value, _, _, _, merges, anchor, start, mark = stack.pop()
            top = stack[-1] if stack else None
            if merges:  # YAML merge keys: explicit keys win, then the earlier merged mappings
                merged: dict = {}
                for m in reversed(merges):
                    merged.update(m)
                merged.update(value)
                value = merged
            if anchor is not None:
                anchors[anchor] = (value, nodes + extra - start + 1)
            put(value, mark)
        elif kind is Alias:
            hit = anchors.get(event.anchor)
            if hit is None:
                raise ConstructorError(None, None, f"found undefined alias {_clip(event.anchor)!r}",
                                       event.start_mark)
            if hit[1] < 0:
                raise InvalidInput(f"recursive YAML alias *{_clip(event.anchor)} (a node that contains itself)",
                                   hint="remove the recursive alias.")
            aliases += 1
            extra += hit[1]
            if aliases > MAX_ALIASES:
                raise bounded(f"has more than {MAX_ALIASES} aliases", "remove the repeated aliases.")
            if extra > MAX_ALIAS_NODES:
                raise bounded(f"aliases expand to more than {MAX_ALIAS_NODES} extra nodes (an alias bomb?)",
                              "remove the repeated aliases.")
            put(hit[0], event.start_mark)
        elif kind is ev.DocumentStartEvent:
            anchors.clear()
            if len(docs) >= MAX_DOCUMENTS:
                raise bounded(f"stream has more than {MAX_DOCUMENTS} documents", "split the input into several files.")
        elif kind is ev.DocumentEndEvent:
            docs.append(root.pop() if root else None)
        elif kind is ev.StreamEndEvent:
            return docs
        if nodes > MAX_NODES:
            raise bounded(f"has more than {MAX_NODES} nodes",
                          "split the input into several files, or pass only the objects the question needs.")


class _MergeKey:
    """The ``<<`` key of a YAML merge."""


_MERGE_KEY = _MergeKey()


def _clip(text: str, limit: int = 100) -> str:
    from ..runtime import clip_value

    return clip_value(text, limit)


def _clip_path(path: str) -> str:
    from ..runtime import clip_path

    return clip_path(path)


def _scrub(kind: Kind, obj: dict) -> dict:
    """Drop what must never reach a model: Secret values, managedFields noise."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        meta = dict(meta)
        meta.pop("managedFields", None)
        obj = {**obj, "metadata": meta}
    if kind.key == "Secret":
        data = obj.get("data") if isinstance(obj.get("data"), dict) else {}
        string_data = obj.get("stringData") if isinstance(obj.get("stringData"), dict) else {}
        keys = sorted(set(data) | set(string_data))
        facts = _secret_facts(data, string_data)
        obj = {k: v for k, v in obj.items() if k not in ("data", "stringData")}
        obj["dataKeys"] = keys
        obj.update(facts)
    return obj


#: the Secret keys whose certificate gateway.SecretAnalyzer checks (credentials/kube.ExtractCertInfo)
CERT_KEYS = ("cert", "tls.crt")
_B64_CHAR = re.compile(r"[A-Za-z0-9+/]")
_PEM_BEGIN = re.compile(rb"-----BEGIN ([^\r\n-]*)-----\r?\n")


def _first_pem(raw: bytes, tries: int = 16) -> bytes | None:
    """The body of the first PEM block (any type), as Go's pem.Decode finds it: a BEGIN line without its END is
    skipped. Linear: at most ``tries`` BEGIN lines are looked at, each with one search for its END."""
    pos = 0
    for _ in range(tries):
        m = _PEM_BEGIN.search(raw, pos)
        if m is None:
            return None
        end = raw.find(b"-----END " + m.group(1) + b"-----", m.end())
        if end >= 0:
            return raw[m.end():end]
        pos = m.end()
    return None


def _secret_facts(data: dict, string_data: dict) -> dict:
    """What a Secret may tell without its values: ``dataEmpty`` (keys whose value is empty) and, for the
    certificate keys, ``certificates`` {key: {notBefore, notAfter} or {error}} as Istio's
    xds.ValidateCertificate reads them (the first PEM block, any type, parsed as X.509). Certificates are
    public; no value, and nothing of a private key, is kept."""
    import base64
    import binascii

    def decoded(v: object) -> bytes:
        try:
            return base64.b64decode(str(v or ""), validate=False)
        except (binascii.Error, ValueError):
            return b"\x00invalid base64"

    # only the certificate keys are decoded (a cluster's Secrets can hold megabytes of other data): a data value
    # decodes to nothing exactly when it has no base64 alphabet character (any other decodes, or fails to)
    empty = {str(k) for k, v in data.items() if not _B64_CHAR.search(str(v or ""))}
    for k, v in string_data.items():  # stringData wins over data, as the API server merges them
        empty.discard(str(k))
        if not str(v or ""):
            empty.add(str(k))
    out: dict[str, Any] = {"dataEmpty": sorted(empty)}
    certs: dict[str, dict[str, str]] = {}
    for key in CERT_KEYS:
        if key in string_data:
            raw = str(string_data[key] or "").encode()
        elif key in data:
            raw = decoded(data[key])
        else:
            continue
        if not raw:
            continue
        body = _first_pem(raw[:1 << 20])
        if body is None:
            certs[key] = {"error": "pem decode failed"}
            continue
        try:
            import warnings

            from cryptography import x509

            der = base64.b64decode(b"".join(line for line in body.splitlines() if b":" not in line))
            with warnings.catch_warnings():  # e.g. a non-positive serial: Go parses it, so do we, quietly
                warnings.simplefilter("ignore")
                c = x509.load_der_x509_certificate(der)
            certs[key] = {"notBefore": c.not_valid_before_utc.isoformat(),
                          "notAfter": c.not_valid_after_utc.isoformat()}
        except Exception:  # noqa: BLE001 - any parse failure is "not a certificate", as x509.ParseCertificates says
            certs[key] = {"error": "x509 parse failed"}
    if certs:
        out["certificates"] = certs
    return out


def name_of(o: dict) -> str:
    return str((o.get("metadata") or {}).get("name") or "")


def ns_of(o: dict) -> str:
    return str((o.get("metadata") or {}).get("namespace") or "")


def labels_of(o: dict) -> dict[str, str]:
    return (o.get("metadata") or {}).get("labels") or {}


def annotations_of(o: dict) -> dict[str, str]:
    return (o.get("metadata") or {}).get("annotations") or {}


__all__ = ["Snapshot", "LoadError", "KINDS", "safe_load_all", "name_of", "ns_of", "labels_of", "annotations_of"]
