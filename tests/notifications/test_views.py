"""The notifications page: a customer chooses which mails they get; staff alerts only for staff."""

from __future__ import annotations

import pytest
from django.urls import reverse

from shop.notifications.models import NotificationSettings
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_customer_switches_a_kind_off_and_the_page_shows_it(client, customer) -> None:
    client.force_login(customer)
    page = client.get(reverse("notification-settings"))
    html = page.content.decode()
    assert page.status_code == 200 and customer.email in html and "staff_alerts" not in html
    assert html.count("checked") == 3  # every kind on until chosen
    saved = client.post(reverse("notification-settings"), {"order_refunded": "on", "ticket_answered": "on"})
    assert saved.status_code == 302
    row = NotificationSettings.objects.get(user=customer)
    assert (row.order_refunded, row.topup_credited, row.ticket_answered, row.staff_alerts) == (True, False, True, True)


def test_a_customer_cannot_switch_off_staff_alerts_they_do_not_get_and_staff_can(client, customer) -> None:
    client.force_login(customer)
    client.post(reverse("notification-settings"), {"staff_alerts": ""})
    assert NotificationSettings.objects.get(user=customer).staff_alerts is True
    staff = UserFactory(is_staff=True)
    client.force_login(staff)
    assert "staff_alerts" in client.get(reverse("notification-settings")).content.decode()
    client.post(reverse("notification-settings"), {"order_refunded": "on"})
    assert NotificationSettings.objects.get(user=staff).staff_alerts is False


def test_visitors_are_sent_to_log_in(client) -> None:
    response = client.get(reverse("notification-settings"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
