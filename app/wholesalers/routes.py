"""Wholesaler pages."""

from flask import render_template
from flask_login import current_user

from app.auth.access import role_required
from app.extensions import db
from app.models import CreditAccount, Role
from app.wholesalers import bp


@bp.route("/")
@role_required(Role.WHOLESALER)
def dashboard():
    accounts = db.session.scalars(
        db.select(CreditAccount).where(CreditAccount.wholesaler_id == current_user.wholesaler_id)
        .order_by(CreditAccount.id)).all()
    return render_template("wholesalers/dashboard.html", accounts=accounts)
