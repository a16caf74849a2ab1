"""Order pages every role shares: the list, one order, and cancelling it; each scoped to what the user may see."""

from flask import Blueprint

bp = Blueprint("orders", __name__)

from app.orders import routes  # noqa: E402,F401
