"""Notifications go to a webhook and email in the background; failures are only logged."""

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail

from posting.notifications import notify


class Collector(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers["Content-Length"])
        Collector.received.append(json.loads(self.rfile.read(length)))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_an_event_reaches_the_webhook_and_the_recipients(settings):
    from posting.notifications import _deliver

    server = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.handle_request, daemon=True).start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    Collector.received.clear()
    webhook = f"http://127.0.0.1:{server.server_port}/hook"
    _deliver("account_held", "Account @a held: captcha", webhook, ["ops@example.com"])
    server.server_close()
    assert Collector.received == [
        {"event": "account_held", "text": "Fleetpost: Account @a held: captcha"}
    ]
    assert mail.outbox[0].subject == "Fleetpost: account_held"
    assert mail.outbox[0].to == ["ops@example.com"]


def test_a_webhook_that_fails_is_logged_and_nothing_raises(settings, caplog):
    settings.NOTIFY_WEBHOOK_URL = "http://127.0.0.1:9/unreachable"
    with caplog.at_level("ERROR", logger="posting.notifications"):
        from posting.notifications import _deliver

        _deliver("watchdog", "stalled", settings.NOTIFY_WEBHOOK_URL, [])
    assert "Webhook for watchdog failed" in caplog.text


def test_unknown_events_are_refused():
    with pytest.raises(ValueError, match="unknown notification event"):
        notify("party", "!")
