"""Admin pages."""

from flask import render_template

from app.admin import bp
from app.auth.access import role_required
from app.extensions import db
from app.models import CreditAccount, Role


@bp.route("/")
@role_required(Role.ADMIN)
def accounts():
    accounts = db.session.scalars(db.select(CreditAccount).order_by(CreditAccount.id)).all()
    return render_template("admin/accounts.html", accounts=accounts)
