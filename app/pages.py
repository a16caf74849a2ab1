"""What every page view shares: a refused form shown again, filled in, with its messages and a status saying why."""

from flask import flash, render_template
from flask_wtf import FlaskForm

from app.errors import RETRY_AFTER_SECONDS, STATUS_BY_CODE
from app.services.errors import CreditError, NotFound

#: 422 Unprocessable Content: a submitted form sent back because its input did not pass (the form's rules or a
#: service's validation) or a business rule refused it (not enough credit, account blocked). Codes with a status
#: of their own keep it, as in the API: 409 for a form whose key was used for another request, 503 with Retry-After
#: for a busy account.
REFUSED = 422


def show_refusal(form: FlaskForm, error: CreditError) -> None:
    """Put the refusal's message under the fields it names, or flash it when it names none of them,
    so the re-rendered form says what to fix.

    NotFound is not a refusal to show on a form: it is re-raised and becomes the 404 page.
    """
    if isinstance(error, NotFound):
        raise error
    note_refusal(form, error)
    fields = [name for name in getattr(error, "field_errors", {}) if name in form]
    for name in fields:
        form[name].errors = [*form[name].errors, error.message]
    if not fields:
        flash(error.message, "error")


def note_refusal(form: FlaskForm, error: CreditError) -> None:
    """Remember which refusal the service gave, for ``render_form``'s status (a failed validation needs none)."""
    form.refusal_code = error.code


def render_form(template: str, form: FlaskForm | None, /, **context):
    """The page of ``form``: 200 when it is shown to be filled in; when it was submitted and comes back (a
    successful submit redirects instead), the status of its refusal, 422 unless the code has its own."""
    if form is None or not form.is_submitted():
        return render_template(template, **context)
    status = STATUS_BY_CODE.get(getattr(form, "refusal_code", None), REFUSED)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else {}
    return render_template(template, **context), status, headers
