"""Limit requests as pages: a retailer asks for more credit on a line and may withdraw the request; the wholesaler
approves it (as asked, or another limit for good or for a while) or declines it with a note; both see the history."""

from flask import Blueprint

bp = Blueprint("limit_requests", __name__)

from app.limit_requests import routes  # noqa: E402,F401
