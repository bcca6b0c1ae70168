"""The one place that starts processes: argv lists only, typed errors, redacted logging.

Every child runs in its own process group so that Ctrl-C, a timeout or a failing
pipeline partner ends the whole tree below it, not just the direct child.
"""

from orchestrator.run.pipes import (
    COPY_CHUNK,
    Background,
    PipelineResult,
    Tap,
    feeding,
    pipeline,
    reading,
)
from orchestrator.run.process import (
    INSTALL_HINTS,
    STDERR_TAIL_LINES,
    CommandError,
    CommandTimeout,
    Completed,
    Env,
    MissingBinaryError,
    child_env,
    end_children,
    run,
    terminate_tree,
    which,
)
from orchestrator.run.redact import format_argv, redact_argv
from orchestrator.run.secrets import SECRET_FD, Command, prepared, run_command, secret_fd

__all__ = [
    "COPY_CHUNK", "INSTALL_HINTS", "SECRET_FD", "STDERR_TAIL_LINES", "Background", "Command",
    "CommandError", "CommandTimeout", "Completed", "Env", "MissingBinaryError",
    "PipelineResult", "Tap", "child_env", "end_children", "feeding", "format_argv", "pipeline",
    "prepared", "reading", "redact_argv", "run", "run_command", "secret_fd", "terminate_tree",
    "which",
]
