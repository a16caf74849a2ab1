"""Sign-in and account settings forms."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectMultipleField
from wtforms.validators import DataRequired, Length, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from app.services.text import EMAIL_MAX_LENGTH, PASSWORD_MAX_LENGTH


class LoginForm(FlaskForm):
    # No control characters: a NUL cannot even be looked up in PostgreSQL.
    email = EmailField("Email", validators=[DataRequired(), Length(max=EMAIL_MAX_LENGTH),
                                            Regexp(r"^[^\x00-\x1f\x7f]*$", message="Enter an email address.")])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=PASSWORD_MAX_LENGTH)])


class EmptyForm(FlaskForm):
    """A CSRF token alone, for buttons that POST."""


class NotificationsForm(FlaskForm):
    """The kinds of mail the user wants: each ticked box is a kind that is sent (app/services/notifications.py)."""

    wanted = SelectMultipleField("Send me a mail when", choices=[], validate_choice=True,
                                 widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
