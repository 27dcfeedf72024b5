from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from posting.demo import create_demo_devices, write_demo_csv
from posting.models import Job


class Command(BaseCommand):
    help = "Create simulated devices, a demo jobs CSV with every kind of failure, and import it."

    def add_arguments(self, parser):
        parser.add_argument("--devices", type=int, default=4)
        parser.add_argument("--jobs-per-device", type=int, default=12)
        parser.add_argument("--admin-password", default="admin")

    def handle(self, *args, devices: int, jobs_per_device: int, admin_password: str, **options):
        if not settings.DEBUG:
            raise CommandError("seed_demo is for a development install (DEBUG on)")
        self._ensure_admin(admin_password)
        if Job.objects.exists():
            self.stdout.write("jobs exist already: demo data left as it is")
            return
        demo_devices = create_demo_devices(devices)
        path = Path(settings.VAR_DIR) / "demo-jobs.csv"
        rows = write_demo_csv(path, demo_devices, jobs_per_device)
        call_command("import_jobs", str(path), stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS(f"demo: {devices} devices, {rows} jobs from {path}"))

    def _ensure_admin(self, password: str) -> None:
        users = get_user_model().objects
        if not users.filter(username="admin").exists():
            users.create_superuser("admin", "admin@localhost", password)
