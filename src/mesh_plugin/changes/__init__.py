"""Changes: the one path for every write (validate, dry-run, diff, apply with a precondition, audit)."""
from .audit import audit

__all__ = ["audit"]
