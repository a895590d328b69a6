"""The kinds of notification mail (``shop.notifications.services.MAILS`` says what each one says and to whom)."""

ORDER_REFUNDED = "order_refunded"
TOPUP_CREDITED = "topup_credited"
TICKET_ANSWERED = "ticket_answered"
STAFF_ATTENTION = "staff_attention"
STAFF_TOPUP_REVIEW = "staff_topup_review"
STAFF_PROVIDER_LOW = "staff_provider_low"
