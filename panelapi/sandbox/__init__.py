"""A sandbox SMM panel speaking "API v2" over real HTTP, for tests and benchmarks.

Pure standard library: `SandboxPanel` holds the state and answers calls,
`SandboxServer` puts it on a socket and plays `Fault`s (slow, dropped, HTML,
truncated, huge or wrong-shaped replies), and `python -m panelapi.sandbox` runs it alone.
"""

from .catalogue import SandboxService, build_catalogue
from .panel import Fault, SandboxPanel
from .server import SandboxServer

__all__ = ["Fault", "SandboxPanel", "SandboxServer", "SandboxService", "build_catalogue"]
