from pathlib import Path

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

from devices.flow_trial import TrialRefused, check_trial, format_steps, run_trial
from devices.models import Device, FlowTrial, FlowTrialStatus


class Command(BaseCommand):
    help = (
        "Run a platform's flow on a device step by step and stop before publishing (unless "
        "--through names the publishing step); keeps a screenshot and page source per step."
    )

    def add_arguments(self, parser):
        parser.add_argument("device", help="The device's name.")
        parser.add_argument(
            "--platform", help="Whose flow (default: the device's fleetpost:platform)."
        )
        parser.add_argument("--video", required=True, help="A video file on this machine.")
        parser.add_argument("--caption", default="Fleetpost flow trial")
        parser.add_argument(
            "--account", default="", help="The handle verify_account expects (default: report)."
        )
        parser.add_argument(
            "--through",
            default="",
            help="The last step to run: number, name or action. Default: the step before "
            "publishing; only naming the publishing step publishes.",
        )

    def handle(self, *args, device: str, platform, video, caption, account, through, **options):
        found = Device.objects.filter(name=device).first()
        if found is None:
            raise CommandError(f"no device named {device!r}")
        platform = platform or found.capabilities.get("fleetpost:platform")
        if not platform:
            raise CommandError("--platform is needed (the device has no fleetpost:platform)")
        if not Path(video).is_file():
            raise CommandError(f"--video: {video} is not a file on this machine")
        trial = FlowTrial(
            device=found,
            platform=platform,
            video_path=str(Path(video).resolve()),
            caption=caption,
            account_handle=account,
            through=through,
            requested_by="manage.py try_flow",
        )
        try:
            check_trial(trial)
        except TrialRefused as exc:
            raise CommandError(str(exc)) from None
        trial.save()
        run_trial(trial)
        self.stdout.write(f"screenshots and page sources: {default_storage.path(trial.folder)}")
        self.stdout.write(format_steps(trial.steps))
        if trial.detail:
            self.stdout.write(trial.detail)
        if trial.status != FlowTrialStatus.PASSED:
            raise CommandError(f"the {platform} flow did not pass on {device}: {trial.status}")
        self.stdout.write(self.style.SUCCESS(f"{len(trial.steps)} steps listed; trial passed"))
