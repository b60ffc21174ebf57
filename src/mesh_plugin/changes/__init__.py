"""Changes: the one path for every write (validate, dry-run, diff, apply with a precondition, audit)."""
from .audit import audit
from .path import ChangeResult, Plan, execute, plan_change, plan_rollback

__all__ = ["ChangeResult", "Plan", "audit", "execute", "plan_change", "plan_rollback"]
