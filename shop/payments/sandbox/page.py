"""The payer's page at the sandbox gateway: what is asked, by whom, and three buttons."""

from __future__ import annotations

from html import escape

from .gateway import Payment

__all__ = ["message_page", "payment_page"]

_STYLE = """
body { font: 16px/1.5 system-ui, sans-serif; background: #f4f5f7; color: #1d2330; margin: 0; }
main { max-width: 30rem; margin: 3rem auto; background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px #0002; }
.banner { background: #fff4d6; border: 1px solid #e8c55c; padding: .5rem .75rem; border-radius: 6px; font-size: .9rem; }
.amount { font-size: 2rem; font-weight: 600; margin: 1rem 0 .25rem; }
dl { display: grid; grid-template-columns: auto 1fr; gap: .25rem 1rem; }
dt { color: #5b6475; } dd { margin: 0; overflow-wrap: anywhere; }
form { display: flex; gap: .5rem; flex-wrap: wrap; margin-top: 1.5rem; }
button { font: inherit; padding: .6rem 1.1rem; border-radius: 6px; border: 1px solid #9aa3b2; background: #fff; cursor: pointer; }
button.pay { background: #1f7a4d; border-color: #1f7a4d; color: #fff; }
"""


def _document(title: str, content: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><main><p class="banner">Sandbox payment gateway: test payments only, no money moves.</p>{content}</main></body></html>\n'
    )


def payment_page(payment: Payment, *, now: float) -> str:
    """The payment with Pay, Decline and Let it expire while it is pending; its outcome and a way back otherwise."""
    facts = payment.as_dict()
    rows = [
        ("Merchant", facts["merchant"]),
        ("Reference", facts["reference"]),
        ("Payment", facts["id"]),
        ("Status", facts["status"]),
    ]
    if payment.status == "pending":
        minutes = max(0, int(payment.expires_at - now) // 60)
        rows.append(("Expires in", f"{minutes} min" if minutes else "under a minute"))
    details = "".join(f"<dt>{escape(label)}</dt><dd>{escape(value)}</dd>" for label, value in rows)
    if payment.status == "pending":
        action = (
            f'<form method="post" action="/pay/{escape(payment.id)}">'
            '<button class="pay" name="action" value="pay">Pay</button>'
            '<button name="action" value="decline">Decline</button>'
            '<button name="action" value="expire">Let it expire</button></form>'
        )
    else:
        action = f'<p>This payment is {escape(payment.status)}. <a href="{escape(payment.return_url)}">Back to the shop</a></p>'
    content = (
        f"<h1>Pay {escape(facts['merchant'])}</h1>"
        f'<p class="amount">{escape(facts["amount"])} {escape(facts["currency"])}</p>'
        f"<dl>{details}</dl>{action}"
    )
    return _document(f"Pay {facts['amount']} {facts['currency']}", content)


def message_page(title: str, message: str) -> str:
    """A page that only says something (an unknown payment, a second click)."""
    return _document(title, f"<h1>{escape(title)}</h1><p>{escape(message)}</p>")
