"""Jinja filters that make money and times readable."""

from datetime import date, datetime
from decimal import Decimal

from flask import Flask


def money(amount: Decimal | None, currency: str = "") -> str:
    """``1234567.5`` → ``1,234,567.50 EUR``; negatives keep their sign."""
    if amount is None:
        return ""
    text = f"{amount:,.2f}"
    return f"{text} {currency}".strip()


def timestamp(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def day(value: date | None) -> str:
    """A business date, such as a due date: ``2026-12-31``."""
    return value.isoformat() if value else ""


def register(app: Flask) -> None:
    app.add_template_filter(money)
    app.add_template_filter(timestamp)
    app.add_template_filter(day)
