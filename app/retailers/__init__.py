"""Pages for retailers: their credit lines, catalogues and orders."""

from flask import Blueprint

bp = Blueprint("retailers", __name__)

from app.retailers import routes  # noqa: E402,F401
