"""Integrations: a wholesaler's or a retailer's webhook endpoints, their secrets and delivery logs."""

from flask import Blueprint

bp = Blueprint("integrations", __name__)

from app.integrations import routes  # noqa: E402,F401
