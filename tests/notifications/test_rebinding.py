"""Webhook delivery connects to the address it checked (DNS rebinding): the host is
resolved once per attempt and the request goes to that address, with the URL's host in
the Host header. The resolver below is the attacker's DNS: it answers the first lookup of
its name with a public address and every later one with loopback, where a receiver
listens. Before the fix the check saw the public answer and the HTTP client's own second
lookup connected to loopback; now nothing reaches loopback."""

from __future__ import annotations

import socket

import pytest

from apps.notifications import signing, tasks
from apps.notifications.models import Delivery, DeliveryAttempt, Event, Integration
from tests.notifications.receivers import Receiver

pytestmark = pytest.mark.django_db

PUBLIC = "93.184.215.14"  # a global unicast address (no route to it from the test box)


class RebindingDns:
    """getaddrinfo for `name`: the answers in order (the last repeats); others unchanged."""

    def __init__(self, monkeypatch, name: str, answers: list[str]):
        self.name, self.answers, self.lookups = name, answers, 0
        real = socket.getaddrinfo

        def getaddrinfo(host, port, *args, **kwargs):
            if host != name:
                return real(host, port, *args, **kwargs)
            self.lookups += 1
            address = self.answers[min(self.lookups, len(self.answers)) - 1]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 80)))]

        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


def _delivery(team, url: str) -> Delivery:
    integration = Integration.objects.for_team(team).create(
        team=team, name="hook", type="webhook", url=url, secret="s3cret", kinds=[]
    )
    event = Event.objects.for_team(team).create(
        team=team, key="rebinding", kind="automation", title="rebinding"
    )
    return Delivery.objects.for_team(team).create(
        team=team, event=event, channel="webhook", integration=integration, dedupe="rebind"
    )


def test_a_rebinding_dns_answer_cannot_move_a_delivery_to_loopback(team, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    settings.WEBHOOK_TIMEOUT_S = 3
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        dns = RebindingDns(monkeypatch, "hooks.rebind.test", [PUBLIC, "127.0.0.1"])
        delivery = _delivery(team, f"http://hooks.rebind.test:{port}/hook")
        assert tasks.deliver(team.pk, delivery.pk) == "failed"
        assert receiver.requests == []  # loopback was never reached
    assert dns.lookups == 1  # checked once, connected to what was checked
    attempt = DeliveryAttempt.objects.for_team(team).get(delivery=delivery)
    assert attempt.status_code is None and attempt.error


def test_the_connection_goes_to_the_checked_address_with_the_urls_host(team, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the receiver is on loopback
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        # A second lookup would answer an address where nothing listens.
        dns = RebindingDns(monkeypatch, "hooks.pinned.test", ["127.0.0.1", "127.0.0.9"])
        delivery = _delivery(team, f"http://hooks.pinned.test:{port}/hook")
        assert tasks.deliver(team.pk, delivery.pk) == "succeeded"
        (request,) = receiver.requests
    assert dns.lookups == 1
    assert request["headers"]["Host"] == f"hooks.pinned.test:{port}"
    stamp = int(request["headers"]["X-Gradline-Timestamp"])
    expected = signing.webhook_signature("s3cret", stamp, request["body"])
    assert request["headers"]["X-Gradline-Signature"] == expected


def test_private_answers_are_refused_before_any_connection(team, settings, monkeypatch):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    RebindingDns(monkeypatch, "hooks.private.test", ["169.254.169.254"])
    delivery = _delivery(team, "http://hooks.private.test/latest/meta-data")
    assert tasks.deliver(team.pk, delivery.pk) == "failed"
    attempt = DeliveryAttempt.objects.for_team(team).get(delivery=delivery)
    assert "link-local or private" in attempt.error
