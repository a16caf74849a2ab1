"""Sign-in, sign-out, and each user's own settings."""

from flask import flash, redirect, render_template, url_for
from flask_login import current_user, login_required, login_user, logout_user

from app.auth import bp
from app.auth.forms import (
    ChangePasswordForm,
    ChoosePasswordForm,
    EmptyForm,
    LoginForm,
    NotificationsForm,
    ResetRequestForm,
)
from app.auth.users import home_url
from app.models import User
from app.pages import render_form, show_refusal, submit
from app.security import (
    limit_reset_per_account,
    limit_sign_in_per_account,
    limit_sign_in_per_account_and_address,
    limit_sign_in_per_address,
    note_failed_sign_in,
)
from app.services import notifications, password_links
from app.services.password_links import LinkNotValid
from app.services.sessions import authenticate, change_password, end_sessions


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


@bp.route("/settings/password", methods=["GET", "POST"])
@login_required
@limit_sign_in_per_address  # a session left open is no way to guess the password at leisure
def change_password_page():
    form = ChangePasswordForm()

    def changed(user: User) -> str:
        login_user(user)  # this session goes on with the new version; every other one has ended
        return "Your password is changed, and every other session of yours is signed out."

    return submit(form, lambda: change_password(current_user, current_password=form.current_password.data,
                                                new_password=form.password.data),
                  success=changed, redirect_to=lambda user: url_for("auth.notification_settings"),
                  page=lambda: render_form("auth/change_password.html", form, form=form))


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    return _choose_password(token, "invitation", "auth/accept_invitation.html",
                            done="Welcome to Creditline: your password is set and you are signed in.")


@bp.route("/password-reset", methods=["GET", "POST"])
@limit_sign_in_per_address
@limit_reset_per_account
def request_password_reset():
    form = ResetRequestForm()
    if form.validate_on_submit():
        password_links.request_reset(form.email.data)
        # The same page whether or not the address has an account.
        return render_template("auth/reset_sent.html", email=form.email.data.strip().lower(),
                               minutes=int(password_links.VALID_FOR["reset"].total_seconds() // 60))
    return render_form("auth/reset_request.html", form, form=form)


@bp.route("/password-reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    return _choose_password(token, "reset", "auth/reset_password.html",
                            done="Your password is changed, and every other session of yours is signed out.")


def _choose_password(token: str, purpose: str, template: str, *, done: str):
    """A link's page: the form to choose a password, or why the link cannot be used."""
    try:
        user = password_links.user_for_link(token, purpose)
    except LinkNotValid as error:
        return render_template("auth/link_not_valid.html", purpose=purpose, message=error.message), 404
    if current_user.is_authenticated and current_user.id != user.id:
        logout_user()  # the link is someone else's: their password is chosen in their own session
    form = ChoosePasswordForm()

    def signed_in(chosen: User) -> str:  # the link proved the mailbox, the password is new: in, at once
        login_user(chosen)
        return done

    return submit(form, lambda: password_links.choose_password(token, purpose, password=form.password.data),
                  success=signed_in,
                  redirect_to=lambda chosen: home_url(chosen),
                  page=lambda: render_form(template, form, form=form, user=user),
                  refused=_link_refused)


def _link_refused(form: ChoosePasswordForm, error) -> None:
    if isinstance(error, LinkNotValid):  # used in another tab in the meantime
        form.refusal = error
        flash(error.message, "error")
        return
    show_refusal(form, error)
