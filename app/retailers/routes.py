"""Retailer pages."""

from flask import render_template
from flask_login import current_user

from app.auth.access import role_required
from app.extensions import db
from app.models import CreditAccount, Role
from app.retailers import bp


@bp.route("/")
@role_required(Role.RETAILER)
def dashboard():
    accounts = db.session.scalars(
        db.select(CreditAccount).where(CreditAccount.retailer_id == current_user.retailer_id)
        .order_by(CreditAccount.id)).all()
    return render_template("retailers/dashboard.html", accounts=accounts)
