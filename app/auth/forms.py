"""Sign-in forms."""

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length, Regexp


class LoginForm(FlaskForm):
    # No control characters: a NUL cannot even be looked up in PostgreSQL.
    email = EmailField("Email", validators=[DataRequired(), Length(max=254),
                                            Regexp(r"^[^\x00-\x1f\x7f]*$", message="Enter an email address.")])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=200)])


class EmptyForm(FlaskForm):
    """A CSRF token alone, for buttons that POST."""
