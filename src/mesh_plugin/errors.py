"""The few exception types every layer raises.

Each error carries a message for the user and a ``hint``: the next step that
fixes it. Surfaces (MCP, CLI, chat) print ``str(error)``, which joins both.
"""
from __future__ import annotations

#: the longest error text a surface sends (an error is read by a model too, and may echo its input)
MAX_ERROR_TEXT = 4000


def clip(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return text[:limit] + f" ... [{len(text) - limit} more characters not shown]"


class MeshError(Exception):
    """Base class: an expected failure with a next step."""

    code = "error"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        text = f"{clip(self.message)} Next: {clip(self.hint, 1000)}" if self.hint else clip(self.message)
        return text


class InvalidInput(MeshError):
    """An argument or file the caller can fix."""

    code = "invalid_input"


class ConfirmationRequired(InvalidInput):
    """A write to a production-labelled namespace that was not confirmed.

    Carries the namespace and the dry-run diff, so a surface can ask the user
    (MCP elicitation, a terminal prompt) and call again with ``confirm``.
    """

    code = "confirmation_required"

    def __init__(self, message: str, hint: str, namespace: str, diff: str = "") -> None:
        super().__init__(message, hint)
        self.namespace, self.diff = namespace, diff


class NotFound(MeshError):
    """The object, namespace, pod or API does not exist."""

    code = "not_found"


class Forbidden(MeshError):
    """RBAC refused the request; the message names verb, resource and namespace."""

    code = "forbidden"

    def __init__(self, verb: str, resource: str, namespace: str | None, detail: str = "") -> None:
        where = f"in namespace {namespace!r}" if namespace else "cluster-wide"
        super().__init__(
            f"Forbidden: the current identity may not {verb} {resource} {where}."
            + (f" ({detail})" if detail else ""),
            hint=(
                f"grant a Role/ClusterRole rule with verbs [{verb}] on {resource} "
                f"(check with: kubectl auth can-i {verb} {resource}"
                + (f" -n {namespace}" if namespace else " -A")
                + "), or use another --context."
            ),
        )
        self.verb, self.resource, self.namespace = verb, resource, namespace


class Unreachable(MeshError):
    """The API server (or a sidecar, or Prometheus) cannot be reached."""

    code = "unreachable"


class Timeout(MeshError):
    """A call did not answer within its timeout."""

    code = "timeout"


class Conflict(MeshError):
    """A write lost a race: the object changed since it was read."""

    code = "conflict"


class OutcomeUnknown(MeshError):
    """A write was sent but whether it was applied cannot be told (its answer was lost)."""

    code = "outcome_unknown"


class InternalError(MeshError):
    """An unexpected failure inside mesh-plugin (a bug): typed, with a next step, never a traceback."""

    code = "internal_error"


class ServerError(MeshError):
    """The API server answered with an unexpected status."""

    code = "server_error"

    def __init__(self, message: str, status: int | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.status = status
        self.retry_after: float | None = None
