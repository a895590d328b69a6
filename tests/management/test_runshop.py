"""manage.py runshop: the address it prints, and the demo logins with it, are the ones ``--addr`` serves."""

from __future__ import annotations

import signal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from shop.management.commands import runshop
from shop.management.commands.runshop import site_url


class Exited:
    """A child process that has already exited: runshop stops everything at once, as when one of its processes dies."""

    pid = 0
    returncode = 0

    def poll(self) -> int:
        return 0

    def terminate(self) -> None:
        pass

    def wait(self, timeout: float | None = None) -> int:
        return 0


@pytest.fixture
def started(monkeypatch) -> dict[str, Any]:
    """runshop with no real process: what it would start, and the demo_setup call it makes, are recorded."""
    seen: dict[str, Any] = {"commands": {}, "demo": None}

    def start(self, name: str, command: list[str], env: dict[str, str] | None = None) -> None:
        seen["commands"][name] = command
        self.children.append((name, Exited()))

    def demo(name: str, **options: Any) -> None:
        seen["demo"] = (name, options)
        options["stdout"].write(f"Admin login: admin / admin-demo  at {options['site_url']}/admin/\n")

    monkeypatch.setattr(runshop.Command, "_start", start)
    monkeypatch.setattr(runshop.Command, "_wait_for_port", lambda self, *args, **kwargs: None)
    monkeypatch.setattr(runshop, "call_command", demo)
    monkeypatch.setattr(signal, "signal", lambda *args: None)  # the test runner keeps its own Ctrl-C
    return seen


@pytest.mark.parametrize(
    ("addr", "url"),
    [
        ("127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("0.0.0.0:8123", "http://0.0.0.0:8123"),
        ("9000", "http://127.0.0.1:9000"),
        ("[::1]:8080", "http://[::1]:8080"),
        ("localhost:8081", "http://localhost:8081"),
    ],
)
def test_site_url_is_where_runserver_listens(addr: str, url: str) -> None:
    assert site_url(addr) == url


@pytest.mark.parametrize("addr", ["", "abc:", "127.0.0.1:port", "http://127.0.0.1:8000"])
def test_an_address_runserver_would_refuse_stops_runshop_before_anything_starts(started, addr: str) -> None:
    with pytest.raises(CommandError, match="is not a port number or an address:port pair"):
        call_command("runshop", addr=addr, stdout=StringIO())
    assert started["commands"] == {} and started["demo"] is None


def test_runshop_prints_the_address_it_serves_and_the_logins_there(started) -> None:
    out = StringIO()
    with pytest.raises(CommandError, match="exited with code 0"):
        call_command("runshop", addr="0.0.0.0:8123", stdout=out)
    printed = out.getvalue()
    assert "The shop is up at http://0.0.0.0:8123/ " in printed
    assert "Admin login: admin / admin-demo  at http://0.0.0.0:8123/admin/" in printed
    assert "8000" not in printed
    assert started["demo"][1]["site_url"] == "http://0.0.0.0:8123"
    assert started["commands"]["web"][-2:] == ["0.0.0.0:8123", "--noreload"]


def test_demo_setup_prints_the_logins_at_the_given_address(db) -> None:
    out = StringIO()
    call_command("demo_setup", no_sync=True, site_url="http://0.0.0.0:8123", stdout=out)
    printed = out.getvalue()
    assert "Admin login: admin / admin-demo  at http://0.0.0.0:8123/admin/" in printed
    assert "Customer login: demo / demo-customer  at http://0.0.0.0:8123/" in printed
