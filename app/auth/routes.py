"""Sign-in, sign-out, and each user's own settings."""

from flask import flash, redirect, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.auth import bp
from app.auth.forms import EmptyForm, LoginForm, NotificationsForm
from app.auth.users import home_url
from app.pages import render_form, submit
from app.security import (
    limit_sign_in_per_account,
    limit_sign_in_per_account_and_address,
    limit_sign_in_per_address,
    note_failed_sign_in,
)
from app.services import notifications
from app.services.sessions import authenticate, end_sessions


@bp.route("/")
def index():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    return redirect(url_for("auth.login"))


@bp.route("/login", methods=["GET", "POST"])
@limit_sign_in_per_address
@limit_sign_in_per_account_and_address
@limit_sign_in_per_account
def login():
    if current_user.is_authenticated:
        return redirect(home_url(current_user))
    form = LoginForm()
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data)
        if user is not None:
            login_user(user)
            return redirect(home_url(user))
        note_failed_sign_in()
        flash("Email or password is not right.", "error")
    return render_form("auth/login.html", form, form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    if EmptyForm().validate_on_submit():
        end_sessions(current_user, current_user.id)  # a copy of this session's cookie is signed out too
        logout_user()
        flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/settings/notifications", methods=["GET", "POST"])
@login_required
def notification_settings():
    kinds = notifications.KINDS_FOR[current_user.role]
    form = NotificationsForm()
    form.wanted.choices = {kind: notifications.KINDS[kind] for kind in kinds}
    if not form.is_submitted():
        form.wanted.data = [kind for kind in kinds if kind not in current_user.muted_notifications]
    return submit(form, lambda: notifications.set_muted(
                      current_user, muted=[kind for kind in kinds if kind not in (form.wanted.data or [])]),
                  success=lambda user: "Your mail settings are saved.",
                  redirect_to=lambda user: url_for("auth.notification_settings"),
                  page=lambda: render_form("auth/notifications.html", form, form=form, kinds=kinds))
