"""A phone (or emulator) and its health. Knows nothing of jobs."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, models, transaction
from django.db.models import F
from django.utils import timezone

from devices.backends.simulator_config import validate_capabilities
from devices.ports import PORT_CAPABILITIES, first_free, pinned_port, ports_in_use

# How often a registration retries after a concurrent one took the port it picked.
PORT_ASSIGN_TRIES = 20


class PortsExhausted(Exception):
    """The host has no free port left in a configured range."""


class PortClash(Exception):
    """A port pinned in the capabilities is another device's on the same host."""


def default_host() -> str:
    return settings.DEFAULT_HOST


class DeviceBackendName(models.TextChoices):
    SIMULATOR = "simulator", "Simulator"
    APPIUM = "appium", "Appium"


class DeviceHealth(models.TextChoices):
    ONLINE = "online", "Online"
    OFFLINE = "offline", "Offline"
    QUARANTINED = "quarantined", "Quarantined"


class DeviceQuerySet(models.QuerySet):
    def available(self, now: datetime) -> "DeviceQuerySet":
        """Devices that may start an attempt now: enabled, not draining, not quarantined."""
        return self.filter(enabled=True, draining=False).exclude(
            health=DeviceHealth.QUARANTINED, quarantined_until__gt=now
        )


class Device(models.Model):
    name = models.CharField(max_length=100, unique=True)
    host = models.CharField(
        max_length=100,
        default=default_host,
        help_text="The django-q cluster (one per machine with phones) that drives this device.",
    )
    backend = models.CharField(
        max_length=20, choices=DeviceBackendName.choices, default=DeviceBackendName.SIMULATOR
    )
    appium_url = models.URLField(blank=True, help_text="Appium server, e.g. http://127.0.0.1:4723")
    capabilities = models.JSONField(default=dict, blank=True)
    enabled = models.BooleanField(default=True)
    draining = models.BooleanField(
        default=False, help_text="Finish the current job, then take no more."
    )

    health = models.CharField(
        max_length=20, choices=DeviceHealth.choices, default=DeviceHealth.ONLINE
    )
    failure_streak = models.PositiveIntegerField(
        default=0, help_text="Consecutive infrastructure failures."
    )
    quarantine_count = models.PositiveIntegerField(default=0)
    streak_at_quarantine = models.PositiveIntegerField(
        default=0, help_text="The failure streak that led to the latest quarantine."
    )
    quarantined_until = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    health_detail = models.CharField(max_length=500, blank=True)
    last_probed_at = models.DateTimeField(null=True, blank=True)

    # Local ports of parallel UiAutomator2 sessions on the host (see devices/ports.py):
    # assigned at registration, kept on edits, pinned through the capabilities.
    system_port = models.PositiveIntegerField(
        null=True, blank=True, editable=False, help_text="appium:systemPort on this host."
    )
    mjpeg_server_port = models.PositiveIntegerField(
        null=True, blank=True, editable=False, help_text="appium:mjpegServerPort on this host."
    )

    created_at = models.DateTimeField(auto_now_add=True)

    objects = DeviceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        permissions = [("manage_devices", "Can enable, drain, quarantine and probe devices")]
        indexes = [
            # the sweep: idle devices of one host
            models.Index(fields=["host", "enabled"], name="devices_device_host_enabled"),
            # admin filter on health
            models.Index(fields=["health"], name="devices_device_health"),
        ]
        constraints = [
            # Parallel sessions on one host collide on a shared port: the database refuses
            # a second device with the same port, also under concurrent registrations.
            models.UniqueConstraint(
                fields=["host", "system_port"],
                name="%(app_label)s_%(class)s_unique_system_port_per_host",
            ),
            models.UniqueConstraint(
                fields=["host", "mjpeg_server_port"],
                name="%(app_label)s_%(class)s_unique_mjpeg_port_per_host",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        """Save; an Appium device without ports gets free ones from the configured ranges.

        Two registrations on one host may pick the same free port at once: the unique
        constraint refuses the second, which picks again.
        """
        if self.backend != DeviceBackendName.APPIUM:
            super().save(*args, **kwargs)
            return
        for _ in range(PORT_ASSIGN_TRIES):
            self._assign_ports()
            try:
                with transaction.atomic():
                    super().save(*args, **kwargs)
                return
            except IntegrityError:
                if not self._ports_taken_by_others():
                    raise  # another constraint (the name): not ours to retry
                self._forget_unpinned_ports()
        raise PortsExhausted(f"device {self.name}: no free port after {PORT_ASSIGN_TRIES} tries")

    def clean(self) -> None:
        if self.backend == DeviceBackendName.SIMULATOR:
            problems = validate_capabilities(self.capabilities)
            if problems:
                raise ValidationError({"capabilities": problems})
        elif self.backend == DeviceBackendName.APPIUM:
            if not self.appium_url:
                raise ValidationError({"appium_url": "An Appium device needs its server's URL."})
            problems = self.pinned_port_problems()
            if problems:
                raise ValidationError({"capabilities": problems})
            try:
                self._assign_ports()
            except PortsExhausted as exc:
                raise ValidationError({"host": str(exc)}) from None

    # --- ports of parallel sessions on the host -------------------------------------------

    def pinned_port_problems(self) -> list[str]:
        """Why the ports pinned in the capabilities cannot be used on this host."""
        problems, pinned = [], {}
        for field in PORT_CAPABILITIES:
            try:
                port = pinned_port(self.capabilities or {}, field)
            except ValueError as exc:
                problems.append(str(exc))
                continue
            if port is not None:
                pinned[field] = port
        if len(set(pinned.values())) < len(pinned):
            problems.append("appium:systemPort and appium:mjpegServerPort must differ")
        used = ports_in_use(self.host, exclude_pk=self.pk) if pinned else {}
        for field, port in pinned.items():
            if port in used:
                other = used[port]
                problems.append(
                    f"{PORT_CAPABILITIES[field]} {port} is already used by device "
                    f"{other.device_name} on host {self.host} (its {other.capability}); "
                    f"pick another port or leave it out to get a free one"
                )
        return problems

    def validate_constraints(self, exclude=None) -> None:
        """Everything but the port constraints: the ports `clean` picks are provisional (a
        concurrent registration may take them first), so `save` is what settles them against
        the database; pinned ports are checked by `clean` with a clearer message."""
        super().validate_constraints(exclude={*(exclude or ()), *PORT_CAPABILITIES})

    def _assign_ports(self) -> None:
        used = ports_in_use(self.host, exclude_pk=self.pk)
        taken = set(used)
        for field in PORT_CAPABILITIES:
            pinned = pinned_port(self.capabilities or {}, field)
            current = getattr(self, field)
            if pinned is not None:
                if pinned in used:
                    raise PortClash(
                        f"device {self.name}: {PORT_CAPABILITIES[field]} {pinned} is already "
                        f"used by device {used[pinned].device_name} on host {self.host}"
                    )
                setattr(self, field, pinned)
            elif current is None or current in used:  # new, or moved to a host using it
                port = first_free(field, taken | self._own_ports())
                if port is None:
                    raise PortsExhausted(
                        f"host {self.host} has no free port left for {PORT_CAPABILITIES[field]}"
                    )
                setattr(self, field, port)
            taken.add(getattr(self, field))

    def _own_ports(self) -> set[int]:
        return {getattr(self, f) for f in PORT_CAPABILITIES if getattr(self, f) is not None}

    def _ports_taken_by_others(self) -> bool:
        used = ports_in_use(self.host, exclude_pk=self.pk)
        return any(port in used for port in self._own_ports())

    def _forget_unpinned_ports(self) -> None:
        for field in PORT_CAPABILITIES:
            if pinned_port(self.capabilities or {}, field) is None:
                setattr(self, field, None)

    @property
    def is_quarantined(self) -> bool:
        return (
            self.health == DeviceHealth.QUARANTINED
            and self.quarantined_until is not None
            and self.quarantined_until > timezone.now()
        )

    def lock_for_update(self) -> None:
        """Serialise the writers of this device's attempts, in the caller's transaction.

        A row lock on PostgreSQL; on SQLite the IMMEDIATE transaction already holds the
        database's write lock, and Django skips FOR UPDATE.
        """
        statement = self.locking()
        if connection.features.has_select_for_update:
            with connection.cursor() as cursor:
                cursor.execute(*statement)
                cursor.fetchone()

    def locking(self) -> tuple[str, list]:
        """lock_for_update's statement (where the database has FOR UPDATE), for a caller that
        sends it with the writes it serialises. Written out: the runner takes this lock on
        every job, and building the query through the ORM each time cost more CPU than
        taking the lock."""
        table = connection.ops.quote_name(Device._meta.db_table)
        return f"SELECT id FROM {table} WHERE id = %s FOR UPDATE", [self.pk]

    # --- health ----------------------------------------------------------------------------

    def success_changes_health(self, now: datetime) -> bool:
        """Whether record_healthy would write: a streak to end, a health to restore, or a
        last sighting to bring up to date."""
        return not (
            self.health == DeviceHealth.ONLINE
            and not self.failure_streak
            and self._seen_lately(now)
        )

    def record_healthy(self, now: datetime) -> None:
        """A success or a passing probe: the streak ends and a quarantine is lifted."""
        if not self.success_changes_health(now):
            return  # nothing to change: spare the busy device a write per job
        Device.objects.filter(pk=self.pk).update(
            failure_streak=0,
            health=DeviceHealth.ONLINE,
            quarantined_until=None,
            last_seen_at=now,
            health_detail="",
        )
        self.health, self.failure_streak, self.last_seen_at = DeviceHealth.ONLINE, 0, now
        self.quarantined_until, self.health_detail = None, ""

    def record_seen(self, now: datetime) -> None:
        """The device answered (an account failure still means the phone works)."""
        if not self._seen_lately(now):
            Device.objects.filter(pk=self.pk).update(last_seen_at=now)
            self.last_seen_at = now

    def record_connected(self, now: datetime) -> None:
        """adb lists the phone as ready: seen now, and no longer offline (a quarantine
        stands: it ends by its cooldown or a passing probe)."""
        Device.objects.filter(pk=self.pk, health=DeviceHealth.OFFLINE).update(
            health=DeviceHealth.ONLINE, health_detail=""
        )
        Device.objects.filter(pk=self.pk).update(last_seen_at=now)
        self.refresh_from_db(fields=["health", "health_detail", "last_seen_at"])

    def record_offline(self, detail: str) -> None:
        """The phone cannot be driven (not connected, unauthorized); a quarantine stands."""
        Device.objects.filter(pk=self.pk).exclude(health=DeviceHealth.QUARANTINED).update(
            health=DeviceHealth.OFFLINE
        )
        Device.objects.filter(pk=self.pk).update(health_detail=detail[:500])
        self.refresh_from_db(fields=["health", "health_detail"])

    def _seen_lately(self, now: datetime) -> bool:
        # "Last seen" is shown to the second's worth an operator needs, not to the job.
        return self.last_seen_at is not None and now - self.last_seen_at < timedelta(seconds=10)

    def record_infrastructure_failure(self, now: datetime, detail: str = "") -> bool:
        """Count an infrastructure failure; quarantine at the threshold. True if quarantined."""
        Device.objects.filter(pk=self.pk).update(failure_streak=F("failure_streak") + 1)
        self.refresh_from_db(fields=["failure_streak", "quarantine_count", "health"])
        if self.failure_streak < settings.QUARANTINE_AFTER:
            return False
        self.quarantine(now, reason=detail or f"{self.failure_streak} infrastructure failures")
        return True

    def quarantine(self, now: datetime, reason: str) -> None:
        """Quarantine for a cooldown that doubles with each repeat, up to the cap.

        The first probe comes QUARANTINE_PROBE_SECONDS later (last_probed_at starts the wait).
        """
        minutes = min(
            settings.QUARANTINE_MAX_MINUTES,
            settings.QUARANTINE_MINUTES * 2**self.quarantine_count,
        )
        Device.objects.filter(pk=self.pk).update(
            health=DeviceHealth.QUARANTINED,
            quarantined_until=now + timedelta(minutes=minutes),
            quarantine_count=F("quarantine_count") + 1,
            # UPDATE reads the old streak on the right-hand side: kept before it restarts.
            streak_at_quarantine=F("failure_streak"),
            failure_streak=0,
            health_detail=reason[:500],
            last_probed_at=now,
        )
        self.refresh_from_db(
            fields=["health", "quarantined_until", "quarantine_count", "streak_at_quarantine"]
        )

    def release_quarantine(self, now: datetime) -> bool:
        """End a quarantine early (operator or passing probe). False if none was active."""
        released = Device.objects.filter(pk=self.pk, health=DeviceHealth.QUARANTINED).update(
            health=DeviceHealth.ONLINE, quarantined_until=None, failure_streak=0, health_detail=""
        )
        self.refresh_from_db(fields=["health", "quarantined_until", "failure_streak"])
        return released == 1


class PublishRecord(models.Model):
    """The simulator's ledger: one row per real publish, so tests can count duplicates."""

    device_name = models.CharField(max_length=100)
    job_id = models.CharField(max_length=200, db_index=True)
    account_handle = models.CharField(max_length=200)
    attempt_number = models.PositiveIntegerField(default=0)
    published_at = models.DateTimeField(default=timezone.now)
    post_url = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["published_at"]

    def __str__(self) -> str:
        return f"{self.job_id} on {self.device_name}"

    @classmethod
    def record(cls, device_name: str, job_id: str, account_handle: str, attempt_number: int) -> int:
        """Add the ledger's row for a publish, stamped now; its id. The INSERT is written out:
        the simulator records every post, and compiling it through the ORM each time cost
        more CPU than the insert itself (the row is the one `objects.create` writes)."""
        q = connection.ops.quote_name
        columns = ("device_name", "job_id", "account_handle", "attempt_number", "published_at")
        sql = (
            f"INSERT INTO {q(cls._meta.db_table)} ({', '.join(map(q, columns))}, post_url) "
            "VALUES (%s, %s, %s, %s, %s, '')"
        )
        returning = connection.features.can_return_columns_from_insert
        at = cls._meta.get_field("published_at").get_db_prep_save(timezone.now(), connection)
        with connection.cursor() as cursor:
            cursor.execute(
                sql + (" RETURNING id" if returning else ""),
                [device_name, job_id, account_handle, attempt_number, at],
            )
            return cursor.fetchone()[0] if returning else cursor.lastrowid


class FlowTrialStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    PASSED = "passed", "Every step passed"
    FAILED = "failed", "A step failed"
    ERROR = "error", "Could not run"


class FlowTrial(models.Model):
    """One run of the flow debugger (`try_flow`) on a device: which steps passed, how long
    each took, and a screenshot and page source after each (files under MEDIA_ROOT)."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="flow_trials")
    platform = models.CharField(max_length=50)
    video_path = models.CharField(max_length=1000)
    caption = models.TextField(blank=True)
    account_handle = models.CharField(max_length=200, blank=True)
    through = models.CharField(
        max_length=100, blank=True, help_text="The last step to run; empty: stop before publishing."
    )
    status = models.CharField(
        max_length=20, choices=FlowTrialStatus.choices, default=FlowTrialStatus.QUEUED
    )
    requested_by = models.CharField(max_length=150, blank=True)
    requested_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    folder = models.CharField(max_length=500, blank=True, help_text="Under MEDIA_ROOT.")
    steps = models.JSONField(default=list, blank=True)
    detail = models.TextField(blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        indexes = [
            # the device page: its latest trials
            models.Index(fields=["device", "-requested_at"], name="devices_flowtrial_device"),
        ]

    def __str__(self) -> str:
        return f"{self.platform} on {self.device} ({self.get_status_display()})"

    def start(self, folder: str) -> bool:
        """Queued -> running; False if someone else started it (a duplicate task)."""
        return (
            FlowTrial.objects.filter(pk=self.pk, status=FlowTrialStatus.QUEUED).update(
                status=FlowTrialStatus.RUNNING, folder=folder
            )
            == 1
        )

    def finish(self, status: str, steps: list[dict], detail: str, now: datetime) -> None:
        """Running -> passed, failed or error, with the step table."""
        if status not in (FlowTrialStatus.PASSED, FlowTrialStatus.FAILED, FlowTrialStatus.ERROR):
            raise ValueError(f"a trial cannot finish as {status!r}")
        FlowTrial.objects.filter(pk=self.pk).exclude(
            status__in=[FlowTrialStatus.PASSED, FlowTrialStatus.FAILED, FlowTrialStatus.ERROR]
        ).update(status=status, steps=steps, detail=detail, finished_at=now)
        self.refresh_from_db()
