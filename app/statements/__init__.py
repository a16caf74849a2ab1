"""The statement of account for a period, as a page and as a PDF, for the retailer, its wholesaler and admins."""

from flask import Blueprint

bp = Blueprint("statements", __name__)

from app.statements import routes  # noqa: E402,F401
