"""Notification mails: what each says and to whom, the customer's choices, staff alerts by role, and the hooks that queue
them only once the change they are about has committed; a broker or mail server that fails never undoes that change."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth.models import Group
from django.core import mail
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext

from shop.accounts.languages import language_save
from shop.accounts.roles import ADMIN, FINANCE, SUPPORT
from shop.models import LedgerEntry, Order, OrderStatus, PaymentMethod, Provider, TopUp
from shop.notifications import kinds, tasks
from shop.notifications.mail import MailError
from shop.notifications.services import notification_send, settings_of, settings_save, staff_recipients
from shop.notifications.tasks import notification_send_task
from shop.orders.flow import order_unknown
from shop.orders.placement import order_place
from shop.payments.crediting import topup_create, topup_staff_credit
from shop.storefront.templatetags.shop_format import format_money
from shop.support.services import ticket_open, ticket_reply
from tests.factories import UserFactory
from tests.helpers import order_finish, order_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def manual():
    return PaymentMethod.objects.create(
        code="bank", kind=PaymentMethod.Kind.MANUAL, name="Bank transfer", is_enabled=True, currency=settings.SHOP_CURRENCY
    )


def staff_member(role: str, email: str) -> object:
    member = UserFactory(username=email.split("@")[0], email=email, is_staff=True)
    member.groups.add(Group.objects.get(name=role))
    return member


def finished_partial(catalogue, customer) -> Order:
    order = order_place(user=customer, service=catalogue["4"], link="https://tiktok.com/@someone/video/1", quantity=1000)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.IN_PROGRESS, upstream_order_id="77")
    order_finish(order_id=order.pk, status=OrderStatus.PARTIAL, remains=400, start_count=10, upstream_charge=None, raw="Partial")
    return Order.objects.get(pk=order.pk)


# What each mail says, and to whom


def test_a_partial_orders_refund_is_mailed_to_its_customer_with_the_amount_and_a_link(catalogue, customer, settings) -> None:
    settings.SITE_URL = "https://shop.example"
    order = finished_partial(catalogue, customer)
    assert notification_send(kind=kinds.ORDER_REFUNDED, object_id=order.pk) is True
    (message,) = mail.outbox
    assert message.to == [customer.email]
    refunded = format_money(order.refunded)  # as people read it: 0.60, not 0.6000
    assert message.subject == f"Order #{order.pk} ended Partial: {refunded} {settings.SHOP_CURRENCY} refunded"
    assert f"https://shop.example/orders/{order.pk}/" in message.body and f"{refunded} {settings.SHOP_CURRENCY} of its" in message.body


def test_a_customer_who_reads_the_shop_in_spanish_gets_the_mail_in_spanish(catalogue, customer, settings) -> None:
    language_save(user=customer, code="es")
    order = finished_partial(catalogue, customer)
    assert notification_send(kind=kinds.ORDER_REFUNDED, object_id=order.pk) is True
    (message,) = mail.outbox
    refunded = format_money(order.refunded).replace(".", ",")
    with translation.override("es"):
        assert message.subject == gettext("Order #%(id)s ended %(status)s: %(amount)s %(currency)s refunded") % {
            "id": order.pk,
            "status": gettext("Partial"),
            "amount": refunded,
            "currency": settings.SHOP_CURRENCY,
        }
        assert gettext("Partial") != "Partial" and gettext("Partial") in message.body
    assert (
        message.subject.startswith(f"Pedido #{order.pk}")
        and "Hello" not in message.body
        and f"{refunded} {settings.SHOP_CURRENCY}" in message.body
    )
    assert translation.get_language() == "en"  # the worker's language is left as it was


def test_a_credited_top_up_is_mailed_and_one_not_credited_is_not(customer, manual) -> None:
    topup = topup_create(user=customer, method=manual, amount="40", reference="TRX-9", urls=lambda topup: None)
    assert notification_send(kind=kinds.TOPUP_CREDITED, object_id=topup.pk) is False  # still waiting for staff
    topup_staff_credit(topup=topup, staff=UserFactory(is_staff=True, is_superuser=True))
    assert notification_send(kind=kinds.TOPUP_CREDITED, object_id=topup.pk) is True
    (message,) = mail.outbox
    assert message.subject == f"40.00 {settings.SHOP_CURRENCY} added to your balance" or message.subject.endswith("added to your balance")
    assert "Bank transfer" in message.body and message.to == [customer.email]


def test_a_ticket_answer_is_mailed_with_the_answer(customer) -> None:
    ticket = ticket_open(user=customer, subject="Where is\nmy order?", category="order", body="Hi")
    ticket_reply(ticket=ticket, author=UserFactory(is_staff=True), body="It restarts today.", by_staff=True)
    assert notification_send(kind=kinds.TICKET_ANSWERED, object_id=ticket.pk) is True
    (message,) = mail.outbox
    assert message.subject == f"Support answered ticket #{ticket.pk}: Where is my order?"
    assert "It restarts today." in message.body


def test_a_customer_who_switched_a_kind_off_gets_none_of_it_and_the_others_still(customer, manual) -> None:
    assert settings_of(user=customer).topup_credited is True  # on until they choose
    settings_save(user=customer, topup_credited=False)
    topup = topup_create(user=customer, method=manual, amount="40", reference="TRX-9", urls=lambda topup: None)
    topup_staff_credit(topup=topup, staff=UserFactory(is_staff=True, is_superuser=True))
    assert notification_send(kind=kinds.TOPUP_CREDITED, object_id=topup.pk) is False
    ticket = ticket_open(user=customer, subject="s", category="other", body="b")
    ticket_reply(ticket=ticket, author=UserFactory(is_staff=True), body="a", by_staff=True)
    assert notification_send(kind=kinds.TICKET_ANSWERED, object_id=ticket.pk) is True
    assert [message.to for message in mail.outbox] == [[customer.email]]


def test_a_customer_without_an_address_or_inactive_gets_nothing(customer) -> None:
    ticket = ticket_open(user=customer, subject="s", category="other", body="b")
    ticket_reply(ticket=ticket, author=UserFactory(is_staff=True), body="a", by_staff=True)
    type(customer).objects.filter(pk=customer.pk).update(email="")
    assert notification_send(kind=kinds.TICKET_ANSWERED, object_id=ticket.pk) is False
    assert mail.outbox == []


def test_unknown_settings_are_refused(customer) -> None:
    with pytest.raises(ValueError, match="No such notification"):
        settings_save(user=customer, birthday=True)


def test_staff_alerts_go_to_the_staff_whose_role_may_act_on_them() -> None:
    support = staff_member(SUPPORT, "support@example.com")
    staff_member(FINANCE, "finance@example.com")
    staff_member(ADMIN, "admin@example.com")
    UserFactory(username="root", email="root@example.com", is_staff=True, is_superuser=True)
    quiet = staff_member(ADMIN, "quiet@example.com")
    settings_save(user=quiet, staff_alerts=False)
    staff_member(ADMIN, "gone@example.com").__class__.objects.filter(email="gone@example.com").update(is_active=False)
    UserFactory(username="customer-with-perm", email="c@example.com")  # not staff
    assert staff_recipients(kind=kinds.STAFF_ATTENTION) == ["support@example.com", "admin@example.com", "root@example.com"]
    assert staff_recipients(kind=kinds.STAFF_TOPUP_REVIEW) == ["finance@example.com", "admin@example.com", "root@example.com"]
    assert staff_recipients(kind=kinds.STAFF_PROVIDER_LOW) == ["admin@example.com", "root@example.com"]
    assert support.email == "support@example.com"


def test_an_order_needing_attention_is_mailed_to_support_and_one_resolved_meanwhile_is_not(customer) -> None:
    staff_member(SUPPORT, "support@example.com")
    stuck = order_row(customer, status=OrderStatus.NEEDS_ATTENTION, error="No answer to add")
    assert notification_send(kind=kinds.STAFF_ATTENTION, object_id=stuck.pk) is True
    (message,) = mail.outbox
    assert message.to == ["support@example.com"] and "No answer to add" in message.body
    Order.objects.filter(pk=stuck.pk).update(status=OrderStatus.PENDING)
    assert notification_send(kind=kinds.STAFF_ATTENTION, object_id=stuck.pk) is False


def test_a_provider_below_its_threshold_is_mailed_to_admins_and_one_back_above_is_not(provider) -> None:
    staff_member(ADMIN, "admin@example.com")
    Provider.objects.filter(pk=provider.pk).update(balance=Decimal("3"), balance_threshold=Decimal("10"))
    assert notification_send(kind=kinds.STAFF_PROVIDER_LOW, object_id=provider.pk) is True
    assert mail.outbox[0].subject == f"{provider.name}'s balance is low: 3.00000 {provider.currency}"
    Provider.objects.filter(pk=provider.pk).update(balance=Decimal("30"))
    assert notification_send(kind=kinds.STAFF_PROVIDER_LOW, object_id=provider.pk) is False


# The hooks: queued after the commit, once per change, never undoing it


def test_staffs_answer_queues_a_mail_after_the_commit_and_a_customers_reply_does_not(
    customer, notified, django_capture_on_commit_callbacks
) -> None:
    ticket = ticket_open(user=customer, subject="s", category="other", body="b")
    with django_capture_on_commit_callbacks(execute=True):
        ticket_reply(ticket=ticket, author=customer, body="more", by_staff=False)
        ticket_reply(ticket=ticket, author=UserFactory(is_staff=True), body="answer", by_staff=True)
    assert notified == [(kinds.TICKET_ANSWERED, ticket.pk)]


def test_nothing_is_queued_when_the_change_rolls_back(customer, notified, django_capture_on_commit_callbacks) -> None:
    ticket = ticket_open(user=customer, subject="s", category="other", body="b")
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        ticket_reply(ticket=ticket, author=UserFactory(is_staff=True), body="answer", by_staff=True)
        raise RuntimeError("rolled back")
    assert notified == []


def test_a_partial_order_queues_its_refund_mail(catalogue, customer, notified, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        order = finished_partial(catalogue, customer)
    assert notified == [(kinds.ORDER_REFUNDED, order.pk)]


def test_a_completed_order_queues_no_mail(catalogue, customer, notified, django_capture_on_commit_callbacks) -> None:
    order = order_place(user=customer, service=catalogue["4"], link="https://tiktok.com/@someone/video/1", quantity=1000)
    Order.objects.filter(pk=order.pk).update(status=OrderStatus.IN_PROGRESS, upstream_order_id="78")
    with django_capture_on_commit_callbacks(execute=True):
        order_finish(order_id=order.pk, status=OrderStatus.COMPLETED, remains=0, start_count=10, upstream_charge=None, raw="Completed")
    assert notified == []


def test_top_ups_queue_the_staff_check_then_the_customers_mail(customer, manual, notified, django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        topup = topup_create(user=customer, method=manual, amount="40", reference="TRX-9", urls=lambda topup: None)
    with django_capture_on_commit_callbacks(execute=True):
        topup_staff_credit(topup=topup, staff=UserFactory(is_staff=True, is_superuser=True))
        topup_staff_credit(topup=topup, staff=UserFactory(is_staff=True, is_superuser=True))  # once: nothing more
    assert notified == [(kinds.STAFF_TOPUP_REVIEW, topup.pk), (kinds.TOPUP_CREDITED, topup.pk)]


def test_an_order_gone_unknown_queues_the_staff_alert(customer, notified, django_capture_on_commit_callbacks) -> None:
    order = order_row(customer, status=OrderStatus.SUBMITTING)
    with django_capture_on_commit_callbacks(execute=True):
        order_unknown(order_id=order.pk, message="timed out")
        order_unknown(order_id=order.pk, message="timed out again")  # no longer submitting: nothing
    assert notified == [(kinds.STAFF_ATTENTION, order.pk)]


def test_a_broker_that_is_down_never_undoes_the_credit(customer, manual, monkeypatch, django_capture_on_commit_callbacks) -> None:
    def down(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(notification_send_task, "delay", down)
    topup = topup_create(user=customer, method=manual, amount="40", reference="TRX-9", urls=lambda topup: None)
    with django_capture_on_commit_callbacks(execute=True):
        topup_staff_credit(topup=topup, staff=UserFactory(is_staff=True, is_superuser=True))
    assert TopUp.objects.get(pk=topup.pk).state == "paid"
    assert LedgerEntry.objects.filter(topup=topup, kind=LedgerEntry.Kind.TOPUP).count() == 1


def test_a_mail_server_that_hangs_makes_the_task_retry_and_the_payment_stays_credited(
    customer, manual, silent_smtp_server, monkeypatch
) -> None:
    topup = topup_create(user=customer, method=manual, amount="40", reference="TRX-9", urls=lambda topup: None)
    topup_staff_credit(topup=topup, staff=UserFactory(is_staff=True, is_superuser=True))
    tries = []
    monkeypatch.setattr(tasks, "notification_send", lambda **kwargs: tries.append(1) or notification_send(**kwargs))
    # Run eagerly, each retry follows at once: every try fails, and after the last one the task gives up.
    assert notification_send_task.apply(args=(kinds.TOPUP_CREDITED, topup.pk)).get() is False
    assert len(tries) == tasks.MAIL_MAX_RETRIES + 1
    assert TopUp.objects.get(pk=topup.pk).state == "paid"
    with pytest.raises(MailError):
        notification_send(kind=kinds.TOPUP_CREDITED, object_id=topup.pk)


def test_a_mail_sent_by_the_task_arrives_at_a_real_smtp_server(customer, smtp_server) -> None:
    ticket = ticket_open(user=customer, subject="Refill?", category="order", body="b")
    ticket_reply(ticket=ticket, author=UserFactory(is_staff=True), body="Refilled.", by_staff=True)
    assert notification_send_task.apply(args=(kinds.TICKET_ANSWERED, ticket.pk)).get() is True
    (message,) = smtp_server.messages
    assert message["To"] == customer.email and message["Subject"] == f"Support answered ticket #{ticket.pk}: Refill?"
    assert "Refilled." in message.get_content()


def test_a_provider_crossing_below_its_threshold_queues_one_alert_per_crossing(
    provider, notified, django_capture_on_commit_callbacks
) -> None:
    from shop.catalogue.providers import provider_balance_refresh

    Provider.objects.filter(pk=provider.pk).update(balance_threshold=Decimal("1000000"))
    provider.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        provider_balance_refresh(provider=provider)  # unknown -> below: an alert
        provider_balance_refresh(provider=provider)  # still below: none
    assert notified == [(kinds.STAFF_PROVIDER_LOW, provider.pk)]
    Provider.objects.filter(pk=provider.pk).update(balance_threshold=Decimal("1"))
    provider.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        provider_balance_refresh(provider=provider)  # above again: none
    assert notified == [(kinds.STAFF_PROVIDER_LOW, provider.pk)]
