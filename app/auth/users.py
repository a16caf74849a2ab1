"""Where a signed-in user lands."""

from flask import url_for

from app.models import Role, User


def home_url(user: User) -> str:
    """Where a user lands after signing in."""
    return {
        Role.RETAILER: url_for("retailers.dashboard"),
        Role.WHOLESALER: url_for("wholesalers.dashboard"),
        Role.ADMIN: url_for("admin.accounts"),
    }[user.role]
