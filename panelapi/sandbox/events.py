"""The sandbox panel's optional persistence: an append-only log of its state changes."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

__all__ = ["EventLog"]


class EventLog:
    """An append-only JSON-lines file of state changes, replayed at start-up."""

    def __init__(self, path: str | Path) -> None:
        """Use the log at `path`; the file is created on the first event."""
        self.path = Path(path)

    def replay(self, apply: Callable[[dict[str, Any]], None], first: dict[str, Any]) -> None:
        """Feed every stored event to `apply`; start a new log with `first`."""
        text = self.path.read_text(encoding="utf-8") if self.path.exists() else ""
        events = 0
        for line in text.splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a line torn by a crash mid-write
            apply(event)
            events += 1
        if text and not text.endswith("\n"):
            self._write("\n")  # so the next event does not extend the torn line
        if not events:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.append(first)

    def append(self, event: Mapping[str, Any]) -> None:
        """Write one event as a line."""
        self._write(json.dumps(event, separators=(",", ":")) + "\n")

    def _write(self, text: str) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(text)
