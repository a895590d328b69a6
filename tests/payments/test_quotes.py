"""What a top-up costs and brings before anything is written: limits, fee and bonus (``shop/payments/quotes.py``)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shop.payments.models import PaymentMethod
from shop.payments.quotes import AmountRefused, Quote, cents, topup_quote


def method(**fields) -> PaymentMethod:
    values = {
        "name": "Card",
        "currency": "USD",
        "min_amount": Decimal("10"),
        "max_amount": Decimal("500"),
        "fee_percent": Decimal("1"),
        "bonus_percent": Decimal("0"),
        "bonus_threshold": Decimal("0"),
    }
    return PaymentMethod(**{**values, **fields})


def test_the_limits_themselves_are_accepted_and_a_cent_beyond_is_not() -> None:
    assert topup_quote(method=method(), amount="10").amount == Decimal("10")
    assert topup_quote(method=method(), amount="500.00").amount == Decimal("500.00")
    with pytest.raises(AmountRefused, match=r"^The minimum for Card is 10.00 USD.$"):
        topup_quote(method=method(), amount="9.99")
    with pytest.raises(AmountRefused, match=r"^The maximum for Card is 500.00 USD.$"):
        topup_quote(method=method(), amount="500.01")


def test_a_fee_or_bonus_of_half_a_cent_rounds_up() -> None:
    """12.50 x 1% = 0.125: half-up gives 0.13 (the banker's rounding Python uses by default would give 0.12)."""
    assert cents(Decimal("0.125")) == Decimal("0.13")
    assert cents(Decimal("0.135")) == Decimal("0.14")
    quote = topup_quote(method=method(bonus_percent=Decimal("1")), amount="12.50")
    assert (quote.fee, quote.bonus) == (Decimal("0.13"), Decimal("0.13"))


def test_the_bonus_starts_at_its_threshold_and_the_credit_is_amount_less_fee_plus_bonus() -> None:
    generous = method(fee_percent=Decimal("2.5"), bonus_percent=Decimal("10"), bonus_threshold=Decimal("100"))
    below = topup_quote(method=generous, amount="99.99")
    at = topup_quote(method=generous, amount="100")
    assert (below.fee, below.bonus, below.credited) == (Decimal("2.50"), Decimal("0.00"), Decimal("97.49"))
    assert (at.fee, at.bonus, at.credited) == (Decimal("2.50"), Decimal("10.00"), Decimal("107.50"))
    assert at == Quote(amount=Decimal("100"), fee=Decimal("2.50"), bonus=Decimal("10.00"), currency="USD")


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("", "Enter an amount such as 25 or 25.50."),
        ("1e3", "The maximum for Card is 500.00 USD."),  # 1000: the form refuses the notation, the quote reads the number
        ("12.345", "Enter an amount with at most 2 decimal places, such as 25.50."),
        ("Infinity", "Enter an amount with at most 2 decimal places, such as 25.50."),
        (" 25.5 ", None),
    ],
)
def test_amounts_are_plain_decimals_with_at_most_two_places(amount: str, message: str | None) -> None:
    if message is None:
        assert topup_quote(method=method(), amount=amount).amount == Decimal("25.5")
        return
    with pytest.raises(AmountRefused) as refused:
        topup_quote(method=method(), amount=amount)
    assert str(refused.value) == message
