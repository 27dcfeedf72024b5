import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from fleetlab import bench


class Command(BaseCommand):
    help = (
        "Measure Fleetpost's own cost on throw-away databases: overhead, idle_gap, import, "
        "requeue, admin (default: all). Prints one line per scenario."
    )

    def add_arguments(self, parser):
        parser.add_argument("scenarios", nargs="*", help=f"Any of {', '.join(bench.SCENARIOS)}.")
        parser.add_argument("--size", type=int, help="Jobs (or rows) instead of the default.")
        parser.add_argument(
            "--backend", choices=["sqlite-orm", "postgres-redis"], default="sqlite-orm"
        )
        parser.add_argument("--inside", metavar="STEP", help="(internal) run one in-process step")

    def handle(self, *args, scenarios, size, backend, inside, **options):
        if inside:
            self.stdout.write(bench.inside(inside, size or 0))
            return
        unknown = set(scenarios) - set(bench.SCENARIOS)
        if unknown:
            raise CommandError(f"unknown scenarios: {', '.join(sorted(unknown))}")
        with tempfile.TemporaryDirectory(prefix="fleetpost-bench-") as folder:
            env, servers = self.backend_env(backend)
            try:
                for scenario in scenarios or bench.SCENARIOS:
                    line = bench.run(scenario, Path(folder) / scenario, size, env(scenario))
                    self.stdout.write(line)
            finally:
                for server in servers:
                    server.stop()

    def backend_env(self, backend: str):
        if backend == "sqlite-orm":
            return (lambda scenario: {}), []
        from fleetlab.services import Postgres, Redis, missing_reason

        reason = missing_reason()
        if reason:
            raise CommandError(reason)
        postgres, redis = Postgres().start(), Redis().start()

        def env(scenario: str) -> dict:
            redis.flush()
            return {"DATABASE_URL": postgres.create_database(), "REDIS_URL": redis.url()}

        return env, [redis, postgres]
