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
from app.services import clock, directory
from app.team import bp

PAGE_SIZE = 50


@bp.route("/", methods=["GET", "POST"])
@role_required(Role.WHOLESALER, Role.RETAILER)
def index():
    form = InviteForm()
    return submit(form, lambda: directory.invite_user(current_user, email=form.email.data),
                  success=lambda invited: f"Invitation sent to {invited.email}: the link in it works for 72 hours.",
                  redirect_to=lambda _: url_for("team.index"), page=lambda: _page(form))


def _page(form: InviteForm):
    cursors = QueryForm()
    cursors.validate()
    own = (User.wholesaler_id == current_user.wholesaler_id if current_user.role == Role.WHOLESALER
           else User.retailer_id == current_user.retailer_id)
    page = keyset_page(select(User).where(own), User.id, size=PAGE_SIZE,
                       after=cursors.value("after"), before=cursors.value("before"))
    return render_form("team/index.html", form, form=form, page=page, expiry=_invitation_expiry(page.items))


def _invitation_expiry(users: list[User]) -> dict[int, object]:
    """When each invited user's open invitation runs out."""
    invited = [user.id for user in users if user.invited]
    if not invited:
        return {}
    rows = select(PasswordLink.user_id, PasswordLink.expires_at).where(
        PasswordLink.user_id.in_(invited), PasswordLink.purpose == "invitation", PasswordLink.used_at.is_(None),
        PasswordLink.expires_at > clock.now())
    return dict(db.session.execute(rows).all())
