"""Tell operators about events that need them: a webhook and/or email, never blocking a worker.

Sent from a daemon thread; failures are logged, never raised into the attempt that caused them.
"""

import json
import logging
import threading
import urllib.request

from django.conf import settings
from django.core.mail import send_mail

logger = logging.getLogger("posting.notifications")

EVENTS = {
    "account_held",
    "device_quarantined",
    "watchdog",
    "needs_review",
    "pass_finished",
    "platform_paused",
}


def notify(event: str, message: str) -> None:
    """Log the event and send it to the configured webhook and recipients in the background."""
    if event not in EVENTS:
        raise ValueError(f"unknown notification event {event!r}")
    logger.warning("%s: %s", event, message)
    webhook = getattr(settings, "NOTIFY_WEBHOOK_URL", "")
    recipients = getattr(settings, "NOTIFY_EMAILS", [])
    if not webhook and not recipients:
        return
    threading.Thread(
        target=_deliver, args=(event, message, webhook, recipients), daemon=True
    ).start()


def _deliver(event: str, message: str, webhook: str, recipients: list[str]) -> None:
    if webhook:
        body = json.dumps({"event": event, "text": f"Fleetpost: {message}"}).encode()
        request = urllib.request.Request(
            webhook, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=10):
                pass
        except OSError as exc:
            logger.error("Webhook for %s failed: %s", event, exc)
    if recipients:
        try:
            send_mail(f"Fleetpost: {event}", message, None, recipients)
        except Exception as exc:
            logger.error("Email for %s failed: %s", event, exc)
