"""manage.py messages_update: gather the marked text into the catalogues and compile them; ``--check`` only says what is missing.

Gathering needs gettext's ``xgettext`` (a developer's tool: ``apt install gettext``); compiling is done with
``polib``, so the ``.mo`` files Django reads are committed and a fresh machine needs no gettext to run the shop.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import polib
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

DOMAINS = ("django", "djangojs")
# Not the customer's: the tests, benchmarks, the sandbox panel, the staff's admin templates, collected static copies.
# What is gathered (a copy of it, for --check).
SOURCES = ("shop", "templates", "static", "config", "locale")
IGNORE = ["var/*", "tests/*", "bench/*", "mutants/*", "panelapi/*", "templates/admin/*", "locale/*", "node_modules/*"]


class Command(BaseCommand):
    help = "Gather marked text into locale/<code>/LC_MESSAGES/*.po and compile the .mo files (--check: name what the catalogues lack)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--check", action="store_true", help="Change nothing; fail if marked text is missing from a catalogue.")

    def handle(self, *args: Any, **options: Any) -> None:
        if shutil.which("xgettext") is None:
            raise CommandError("gettext's xgettext is not installed (Debian: apt install gettext).")
        locale = Path(settings.LOCALE_PATHS[0])
        codes = [code for code, _ in settings.LANGUAGES if code != settings.LANGUAGE_CODE]
        if not options["check"]:
            self._gather(locale, codes)
            for code in codes:
                for domain in DOMAINS:
                    po = locale / code / "LC_MESSAGES" / f"{domain}.po"
                    polib.pofile(str(po)).save_as_mofile(str(po.with_suffix(".mo")))
            self.stdout.write(f"Catalogues of {', '.join(codes)} gathered and compiled.")
            return
        with tempfile.TemporaryDirectory() as scratch:
            # makemessages writes to ./locale as well as LOCALE_PATHS: gather in a copy of the sources, never the real catalogue.
            root = Path(settings.BASE_DIR)
            for folder in SOURCES:
                shutil.copytree(root / folder, Path(scratch) / folder, ignore=shutil.ignore_patterns("__pycache__"))
            copy = Path(scratch) / "locale"
            here = Path.cwd()
            os.chdir(scratch)
            try:
                self._gather(copy, codes)
            finally:
                os.chdir(here)
            problems = []
            for code in codes:
                for domain in DOMAINS:
                    written = polib.pofile(str(locale / code / "LC_MESSAGES" / f"{domain}.po"))
                    known = {(entry.msgctxt or "", entry.msgid) for entry in written if not entry.obsolete}
                    found = {
                        (entry.msgctxt or "", entry.msgid) for entry in polib.pofile(str(copy / code / "LC_MESSAGES" / f"{domain}.po"))
                    }
                    problems += [f"{code}/{domain}: not in the catalogue: {msgid!r}" for _, msgid in sorted(found - known)]
                    problems += [f"{code}/{domain}: untranslated: {entry.msgid!r}" for entry in written.untranslated_entries()]
                    problems += [f"{code}/{domain}: fuzzy: {entry.msgid!r}" for entry in written.fuzzy_entries()]
        if problems:
            raise CommandError("The catalogues lack marked text (run `make messages`, then translate):\n" + "\n".join(problems))
        self.stdout.write("Every marked text is in the catalogues, translated.")

    def _gather(self, locale: Path, codes: list[str]) -> None:
        with override_settings(LOCALE_PATHS=[locale]):
            for domain in DOMAINS:
                call_command("makemessages", locale=codes, domain=domain, ignore_patterns=IGNORE, no_obsolete=True, verbosity=0)
