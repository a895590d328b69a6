"""Moving the test database along the migration graph, for the upgrade tests."""

from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor


def migrate_to(targets) -> MigrationExecutor:
    """Migrate the test database to ``targets`` (forward or back); the executor, whose loader holds that state."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor


def latest() -> list[tuple[str, str]]:
    """The leaf nodes of the graph: every app at its newest migration."""
    return MigrationExecutor(connection).loader.graph.leaf_nodes()
