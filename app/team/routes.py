"""The organisation's users, newest first, and the form that invites a colleague by e-mail."""

from flask import url_for
from flask_login import current_user
from sqlalchemy import select

from app.auth.forms import InviteForm
from app.auth.roles import role_required
from app.extensions import db
from app.forms import QueryForm
from app.models import PasswordLink, Role, User
from app.pages import render_form, submit
from app.pagination import keyset_page
from app.services import approvals, clock, directory
from app.team import bp
from app.team.forms import OrderLimitForm

PAGE_SIZE = 50


@bp.route("/", methods=["GET", "POST"])
@role_required(Role.WHOLESALER, Role.RETAILER)
def index():
    form = InviteForm()
    return submit(form, lambda: directory.invite_user(current_user, email=form.email.data),
                  success=lambda invited: f"Invitation sent to {invited.email}: the link in it works for 72 hours.",
                  redirect_to=lambda _: url_for("team.index"), page=lambda: _page(form))


@bp.post("/<id:user_id>/order-limit")
@role_required(Role.RETAILER)
def set_order_limit(user_id: int):
    form = OrderLimitForm(prefix=f"limit-{user_id}")

    def said(user: User) -> str:
        if user.order_limit is None:
            return f"{user.email} has no order limit: they order any amount and approve larger orders."
        return (f"{user.email} may order up to {user.order_limit:,.2f} per order; a larger order waits for an "
                "approver.")

    return submit(form, lambda: approvals.set_order_limit(current_user, user_id, limit=form.order_limit.data),
                  success=said, redirect_to=lambda _: url_for("team.index"),
                  page=lambda: _page(InviteForm(formdata=None), limits={user_id: form}))


def _page(form: InviteForm, limits: dict | None = None):
    cursors = QueryForm()
    cursors.validate()
    own = (User.wholesaler_id == current_user.wholesaler_id if current_user.role == Role.WHOLESALER
           else User.retailer_id == current_user.retailer_id)
    page = keyset_page(select(User).where(own), User.id, size=PAGE_SIZE,
                       after=cursors.value("after"), before=cursors.value("before"))
    limits = limits or {}
    refused = next(iter(limits.values()), form)
    limit_forms = {user.id: limits.get(user.id) or OrderLimitForm(
        prefix=f"limit-{user.id}", formdata=None,
        order_limit="" if user.order_limit is None else f"{user.order_limit:.2f}") for user in page.items}
    return render_form("team/index.html", refused, form=form, page=page, expiry=_invitation_expiry(page.items),
                       limit_forms=limit_forms, approver=approvals.is_approver(current_user))


def _invitation_expiry(users: list[User]) -> dict[int, object]:
    """When each invited user's open invitation runs out."""
    invited = [user.id for user in users if user.invited]
    if not invited:
        return {}
    rows = select(PasswordLink.user_id, PasswordLink.expires_at).where(
        PasswordLink.user_id.in_(invited), PasswordLink.purpose == "invitation", PasswordLink.used_at.is_(None),
        PasswordLink.expires_at > clock.now())
    return dict(db.session.execute(rows).all())
