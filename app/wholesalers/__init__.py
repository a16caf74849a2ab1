"""Pages for wholesalers: their retailers' accounts, ledgers and catalogue."""

from flask import Blueprint

bp = Blueprint("wholesalers", __name__)

from app.wholesalers import routes  # noqa: E402,F401
