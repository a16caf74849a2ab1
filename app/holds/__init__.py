"""Credit holds as pages: the retailer's carts and quotes with the time they have left, captured or released from
here; the wholesaler's side sees and may release the holds on its accounts."""

from flask import Blueprint

bp = Blueprint("holds", __name__)

from app.holds import routes  # noqa: E402,F401
