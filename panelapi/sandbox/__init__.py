"""A sandbox SMM panel speaking "API v2" over real HTTP, for tests and benchmarks.

Pure standard library: `SandboxPanel` (``panel``, with its action handlers in
``actions``, the checks and error strings of ``validation``, the order lifecycle
of ``orders`` and the event log of ``events``) holds the state and answers calls,
`SandboxServer` (``server``) puts it on a socket and plays `Fault`s (``faults``:
slow, dropped, HTML, truncated, huge or wrong-shaped replies), and
`python -m panelapi.sandbox` runs it alone.
"""

from .catalogue import SandboxService, build_catalogue
from .faults import Fault
from .panel import SandboxPanel
from .server import SandboxServer

__all__ = ["Fault", "SandboxPanel", "SandboxServer", "SandboxService", "build_catalogue"]
