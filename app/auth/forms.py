"""Sign-in and account settings forms."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectMultipleField
from wtforms.validators import DataRequired, EqualTo, Length, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from app.services.text import EMAIL_MAX_LENGTH, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH


def email_field(label: str = "Email") -> EmailField:
    # No control characters: a NUL cannot even be looked up in PostgreSQL.
    return EmailField(label, validators=[DataRequired(), Length(max=EMAIL_MAX_LENGTH),
                                         Regexp(r"^[^\x00-\x1f\x7f]*$", message="Enter an email address.")])


class LoginForm(FlaskForm):
    email = email_field()
    password = PasswordField("Password", validators=[DataRequired(), Length(max=PASSWORD_MAX_LENGTH)])


class ResetRequestForm(FlaskForm):
    email = email_field()


class ChoosePasswordForm(FlaskForm):
    password = PasswordField("New password", validators=[
        DataRequired(), Length(min=PASSWORD_MIN_LENGTH, max=PASSWORD_MAX_LENGTH,
                               message=f"Use {PASSWORD_MIN_LENGTH} to {PASSWORD_MAX_LENGTH} characters.")],
        render_kw={"autocomplete": "new-password"})
    confirm = PasswordField("The same again", validators=[
        DataRequired(), EqualTo("password", message="The two passwords are not the same.")],
        render_kw={"autocomplete": "new-password"})


class ChangePasswordForm(ChoosePasswordForm):
    current_password = PasswordField("Current password", validators=[DataRequired(), Length(max=PASSWORD_MAX_LENGTH)],
                                     render_kw={"autocomplete": "current-password"})


class InviteForm(FlaskForm):
    email = email_field("Their email")


class EmptyForm(FlaskForm):
    """A CSRF token alone, for buttons that POST."""


class NotificationsForm(FlaskForm):
    """The kinds of mail the user wants: each ticked box is a kind that is sent (app/services/notifications.py)."""

    wanted = SelectMultipleField("Send me a mail when", choices=[], validate_choice=True,
                                 widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
