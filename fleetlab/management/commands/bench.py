import sys
import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from fleetlab import bench, machine
from fleetlab.bench_report import table


class Command(BaseCommand):
    help = (
        "Measure Fleetpost against floors measured in the same run, on throw-away databases: "
        f"{', '.join(bench.SCENARIOS)} (default: all). Prints, per scenario, the figure, the "
        "floor, their ratio and the target, and the machine it ran on."
    )

    def add_arguments(self, parser):
        parser.add_argument("scenarios", nargs="*", help=f"Any of {', '.join(bench.SCENARIOS)}.")
        parser.add_argument(
            "--size", type=int, help="Jobs (or rows) for every scenario instead of its default."
        )
        parser.add_argument(
            "--backend", choices=["sqlite-orm", "postgres-redis"], default="sqlite-orm"
        )

    def handle(self, *args, scenarios: list[str], size: int | None, backend: str, **options):
        unknown = set(scenarios) - set(bench.SCENARIOS)
        if unknown:
            raise CommandError(f"unknown scenarios: {', '.join(sorted(unknown))}")
        chosen = [s for s in bench.SCENARIOS if s in scenarios] if scenarios else bench.SCENARIOS
        results = []
        with tempfile.TemporaryDirectory(prefix="fleetpost-bench-") as folder:
            env, servers = self.backend_env(backend)
            try:
                self.stdout.write(f"machine: {machine.describe(env(None))}")
                for scenario in chosen:
                    sys.stderr.write(f"bench: {scenario}...\n")
                    results.append(
                        bench.run(scenario, Path(folder) / scenario, size, env(scenario))
                    )
            finally:
                for server in servers:
                    server.stop()
        for line in table(results):
            self.stdout.write(line)
        judged = [r for r in results if r.met is not None]
        met = sum(1 for r in judged if r.met)
        summary = f"{met} of {len(judged)} targets met"
        unjudged = [r.scenario for r in results if r.met is None]
        if unjudged:
            summary += f" ({', '.join(unjudged)}: no target on this database)"
        self.stdout.write(self.style.SUCCESS(summary))

    def backend_env(self, backend: str):
        if backend == "sqlite-orm":
            return (lambda scenario: {}), []
        from fleetlab.services import Postgres, Redis, missing_reason

        reason = missing_reason()
        if reason:
            raise CommandError(reason)
        postgres, redis = Postgres().start(), Redis().start()

        def env(scenario: str | None) -> dict:
            if scenario is None:
                return {"DATABASE_URL": postgres.url(), "REDIS_URL": redis.url()}
            redis.flush()
            return {"DATABASE_URL": postgres.create_database(), "REDIS_URL": redis.url()}

        return env, [redis, postgres]
