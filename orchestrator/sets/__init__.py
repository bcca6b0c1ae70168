"""Backup sets: what one is and every operation on one.

Owns set naming, tags and selection (naming.py), the context an operation starts
from (session.py), the manifest and the logical layout (manifest.py, layout.py), the
state directory (state.py), dump streams and their digests (dumps.py, digest.py),
making a set (make.py; create.py and infra.py are the tools over it), restoring,
syncing, comparing and verifying (restore.py, sync.py, compare.py, verify.py), and
rebuilding a host from a disaster-recovery set (recover.py, recover_plan.py,
recover_run.py; the schedules through a function the tool layer hands in).

May import profile, engines, models, hooks, run and errors; never export, schedule,
access or cli (they build on sets).
"""
