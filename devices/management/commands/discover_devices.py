import os

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from devices.discovery import AdbMissing, adb_devices, format_table, sync_devices


class Command(BaseCommand):
    help = "Register the phones adb sees on this host; report registered ones that are missing."

    def add_arguments(self, parser):
        parser.add_argument(
            "--host",
            help="This machine's cluster name (default: Q_CLUSTER_NAME, else the default host).",
        )
        parser.add_argument(
            "--appium-url",
            dest="appium_url",
            help="The Appium server for the phones (default for new ones: APPIUM_DEFAULT_URL).",
        )
        parser.add_argument("--dry-run", action="store_true", help="Report; change nothing.")

    def handle(self, *args, host: str | None, appium_url: str | None, dry_run: bool, **options):
        host = host or os.environ.get("Q_CLUSTER_NAME") or settings.DEFAULT_HOST
        try:
            phones = adb_devices()
        except AdbMissing as exc:
            raise CommandError(str(exc)) from None
        rows = sync_devices(
            phones, host=host, appium_url=appium_url, now=timezone.now(), dry_run=dry_run
        )
        self.stdout.write(format_table(rows))
        counts = {}
        for row in rows:
            counts[row.action] = counts.get(row.action, 0) + 1
        summary = ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "no phones"
        prefix = "dry run, nothing changed: " if dry_run else ""
        self.stdout.write(self.style.SUCCESS(f"host {host}: {prefix}{summary}"))
