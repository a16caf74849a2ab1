"""What every page view shares: a form submitted to an operation, and a refused form shown again, filled in,
with its messages and a status saying why."""

from collections.abc import Callable
from typing import TypeVar

from flask import flash, redirect, render_template
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm

from app.errors import retry_headers
from app.forms import IdempotentForm
from app.services.errors import NotFound, Refusal, ValidationError

T = TypeVar("T")

#: 422 Unprocessable Content: a submitted form sent back because its input did not pass (the form's rules or an
#: operation's validation) or a business rule refused it (not enough credit, account blocked). Refusals with a
#: status of their own keep it, as in the API: 409 for a form whose key was used for another request, 503 with
#: Retry-After for a busy account.
REFUSED = 422


def submit(form: FlaskForm, operation: Callable[[], T], *, success: Callable[[T], str | tuple[str, str]],
           redirect_to: Callable[[T], str], page: Callable[[], ResponseReturnValue],
           refused: Callable[[FlaskForm, Refusal], None] | None = None) -> ResponseReturnValue:
    """The one way a page form reaches an operation: validate, call, flash ``success(result)`` (a message, or a
    message and its category) and redirect to ``redirect_to(result)``; otherwise ``page()`` again, with the
    refusal shown on the form by ``refused`` (``show_refusal`` unless given) and answered with its status."""
    if form.validate_on_submit():
        try:
            result = operation()
        except Refusal as error:
            (refused or show_refusal)(form, error)
        else:
            message = success(result)
            flash(*((message, "success") if isinstance(message, str) else message))
            return redirect(redirect_to(result))
    return page()


def show_refusal(form: FlaskForm, error: Refusal) -> None:
    """Put the refusal's message under the fields it names, or flash it when it names none of them,
    so the re-rendered form says what to fix.

    NotFound is not a refusal to show on a form: it is re-raised and becomes the 404 page.
    """
    note_refusal(form, error)
    named = error.field_errors if isinstance(error, ValidationError) else {}
    # "allocations[0].amount" is said under the form's "allocations" field.
    fields = list(dict.fromkeys(base for name in named if (base := name.split("[")[0].split(".")[0]) in form))
    for name in fields:
        form[name].errors = [*form[name].errors, error.message]
    if not fields:
        flash(error.message, "error")


def note_refusal(form: FlaskForm, error: Refusal) -> None:
    """Remember the refusal on the form, for ``render_form``'s status; NotFound is re-raised (the 404 page)."""
    if isinstance(error, NotFound):
        raise error
    form.refusal = error
    if isinstance(form, IdempotentForm):
        form.replace_spent_key(error)


def render_form(template: str, form: FlaskForm | None, /, **context) -> ResponseReturnValue:
    """The page of ``form``: 200 when it is shown to be filled in; when it was submitted and comes back (a
    successful submit redirects instead), 422, or the status of its refusal when that has one of its own."""
    if form is None or not form.is_submitted():
        return render_template(template, **context)
    refusal: Refusal | None = getattr(form, "refusal", None)
    if refusal is None:
        return render_template(template, **context), REFUSED
    status = REFUSED if refusal.status == 400 else refusal.status
    return render_template(template, **context), status, retry_headers(refusal)
