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


def time_left(until: datetime, now: datetime) -> str:
    """How long is left until ``until``, in its two largest units: "2 days 3 h", "14 min", "40 s"."""
    seconds = max(0, int((until - now).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{days} day{'s' if days != 1 else ''}" if days else "", f"{hours} h" if hours else "",
             f"{minutes} min" if minutes else "", f"{seconds} s" if seconds and not (days or hours) else ""]
    return " ".join([part for part in parts if part][:2]) or "under a second"


def register(app: Flask) -> None:
    app.add_template_filter(money)
    app.add_template_filter(timestamp)
    app.add_template_filter(day)
    app.add_template_filter(time_left)
