"""Notification mails: what each says and who gets it. Called by ``shop.notifications.tasks`` (a worker), never in a request.

Customers get mail about their own orders, payments and tickets, each kind unless switched off on
their notifications page, in the language they chose (``shop.accounts.languages``). Staff alerts, in English,
go to active staff with an email address whose roles let them
act on it (``ALERT_PERMISSIONS``) and who have not switched staff alerts off.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from shop.accounts.languages import language_of
from shop.catalogue.models import Provider
from shop.notifications.kinds import (
    ORDER_REFUNDED,
    STAFF_ATTENTION,
    STAFF_PROVIDER_LOW,
    STAFF_TOPUP_REVIEW,
    TICKET_ANSWERED,
    TOPUP_CREDITED,
)
from shop.notifications.mail import mail_send
from shop.notifications.models import NotificationSettings
from shop.orders.models import Order
from shop.payments.models import TopUp
from shop.storefront.templatetags.shop_format import format_money
from shop.support.models import Ticket, TicketMessage

CUSTOMER_KINDS = (ORDER_REFUNDED, TOPUP_CREDITED, TICKET_ANSWERED)
# Who may act on each staff alert (shop.accounts.roles: Support resolves orders, Finance checks top-ups, Admin all).
ALERT_PERMISSIONS = {
    STAFF_ATTENTION: "shop.resolve_order",
    STAFF_TOPUP_REVIEW: "shop.change_topup",
    STAFF_PROVIDER_LOW: "shop.change_provider",
}


@dataclass(frozen=True)
class Mail:
    to: list[str]
    subject: str
    body: str


def settings_of(*, user: AbstractBaseUser) -> NotificationSettings:
    """``user``'s choices; every kind on when they never chose (an unsaved row)."""
    return NotificationSettings.objects.filter(user=user).first() or NotificationSettings(user=user)


def settings_save(*, user: AbstractBaseUser, **choices: bool) -> NotificationSettings:
    known = {field.name for field in NotificationSettings._meta.fields} - {"user"}
    unknown = set(choices) - known
    if unknown:
        raise ValueError(f"No such notification: {sorted(unknown)}")
    row, _created = NotificationSettings.objects.update_or_create(user=user, defaults=choices)
    return row


def notification_send(*, kind: str, object_id: int) -> bool:
    """Build and send the mail of ``kind`` about object ``object_id``; False when nobody is to get it. Raises ``MailError``."""
    with translation.override(settings.LANGUAGE_CODE):  # staff alerts; customers' mails switch to their own language
        mail = MAILS[kind](object_id)
    if mail is None or not mail.to:
        return False
    mail_send(to=mail.to, subject=mail.subject, body=mail.body)
    return True


def _link(name: str, *args: object) -> str:
    return f"{settings.SITE_URL}{reverse(name, args=args)}"


def _customer(user: AbstractBaseUser, kind: str) -> list[str]:
    if not user.is_active or not user.email or not getattr(settings_of(user=user), kind):
        return []
    return [user.email]


def _body(template: str, **context: object) -> str:
    return render_to_string(f"notifications/{template}.txt", {"currency": settings.SHOP_CURRENCY, **context})


def _order_refunded(order_id: int) -> Mail | None:
    order = Order.objects.select_related("user", "service").filter(pk=order_id).first()
    if order is None or order.refunded <= 0:
        return None
    with translation.override(language_of(user=order.user)):
        # The status too: English in the model (marked there), in the customer's language here.
        status = _(order.get_status_display())
        return Mail(
            _customer(order.user, ORDER_REFUNDED),
            _("Order #%(id)s ended %(status)s: %(amount)s %(currency)s refunded")
            % {"id": order.pk, "status": status, "amount": format_money(order.refunded), "currency": settings.SHOP_CURRENCY},
            _body("order_refunded", order=order, status=status, url=_link("order-detail", order.pk)),
        )


def _topup_credited(topup_id: int) -> Mail | None:
    topup = TopUp.objects.select_related("user", "method").filter(pk=topup_id, state="paid").first()
    if topup is None:
        return None
    with translation.override(language_of(user=topup.user)):
        return Mail(
            _customer(topup.user, TOPUP_CREDITED),
            _("%(amount)s %(currency)s added to your balance") % {"amount": format_money(topup.credited), "currency": topup.currency},
            _body("topup_credited", topup=topup, url=_link("topup-detail", topup.public_id)),
        )


def _ticket_answered(ticket_id: int) -> Mail | None:
    ticket = Ticket.objects.select_related("user").filter(pk=ticket_id).first()
    answer = TicketMessage.objects.filter(ticket_id=ticket_id, by_staff=True).order_by("-id").first()
    if ticket is None or answer is None:
        return None
    with translation.override(language_of(user=ticket.user)):
        return Mail(
            _customer(ticket.user, TICKET_ANSWERED),
            _("Support answered ticket #%(id)s: %(subject)s") % {"id": ticket.pk, "subject": ticket.subject},
            _body("ticket_answered", ticket=ticket, answer=answer, url=_link("ticket-detail", ticket.pk)),
        )


def staff_recipients(*, kind: str) -> list[str]:
    """Active staff with an email who may act on ``kind`` and have staff alerts on (a query per staff member: staff are few)."""
    permission = ALERT_PERMISSIONS[kind]
    staff = get_user_model().objects.filter(is_staff=True, is_active=True).exclude(email="").order_by("pk")
    off = set(NotificationSettings.objects.filter(staff_alerts=False).values_list("user_id", flat=True))
    return [member.email for member in staff if member.pk not in off and member.has_perm(permission)]


def _staff_attention(order_id: int) -> Mail | None:
    order = Order.objects.select_related("user", "provider").filter(pk=order_id, status="needs_attention").first()
    if order is None:
        return None
    return Mail(
        staff_recipients(kind=STAFF_ATTENTION),
        f"Order #{order.pk} needs attention",
        _body("staff_attention", order=order, url=_link("admin:shop_order_change", order.pk)),
    )


def _staff_topup_review(topup_id: int) -> Mail | None:
    topup = TopUp.objects.select_related("user", "method").filter(pk=topup_id, state="review").first()
    if topup is None:
        return None
    return Mail(
        staff_recipients(kind=STAFF_TOPUP_REVIEW),
        f"Top-up #{topup.pk} needs a look: {topup.amount} {topup.currency} via {topup.method.name}",
        _body("staff_topup_review", topup=topup, url=_link("admin:shop_topup_change", topup.pk)),
    )


def _staff_provider_low(provider_id: int) -> Mail | None:
    provider = Provider.objects.filter(pk=provider_id).first()
    if provider is None or provider.balance is None or provider.balance_threshold is None or provider.balance >= provider.balance_threshold:
        return None
    return Mail(
        staff_recipients(kind=STAFF_PROVIDER_LOW),
        f"{provider.name}'s balance is low: {provider.balance} {provider.balance_currency or provider.currency}",
        _body("staff_provider_low", provider=provider, url=_link("admin:shop_provider_change", provider.pk)),
    )


MAILS = {
    ORDER_REFUNDED: _order_refunded,
    TOPUP_CREDITED: _topup_credited,
    TICKET_ANSWERED: _ticket_answered,
    STAFF_ATTENTION: _staff_attention,
    STAFF_TOPUP_REVIEW: _staff_topup_review,
    STAFF_PROVIDER_LOW: _staff_provider_low,
}
