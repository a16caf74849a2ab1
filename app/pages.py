"""What every page view shares: a service's refusal shown on the form that asked for it."""

from flask import flash
from flask_wtf import FlaskForm

from app.services.errors import CreditError, NotFound


def show_refusal(form: FlaskForm, error: CreditError) -> None:
    """Put the refusal's message under the fields it names, or flash it when it names none of them,
    so the re-rendered form says what to fix.

    NotFound is not a refusal to show on a form: it is re-raised and becomes the 404 page.
    """
    if isinstance(error, NotFound):
        raise error
    fields = [name for name in getattr(error, "field_errors", {}) if name in form]
    for name in fields:
        form[name].errors = [*form[name].errors, error.message]
    if not fields:
        flash(error.message, "error")
