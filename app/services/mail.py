"""E-mail: each message is a row written in the transaction of what it tells of, delivered by a job over SMTP,
or kept (shown on the admin's Outbox page and written as a .eml file under instance/mail/) when no MAIL_SERVER
is set.

Delivery is at least once: the message row is locked while it is handed to the SMTP server and marked sent in the
same transaction, so two workers never send it side by side; a worker that dies after the server accepted the
message and before that commit leaves the job to run again, and the message goes out once more with the same
Message-ID, by which receiving systems drop a repeat.
"""

import smtplib
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app, render_template
from procrastinate import RetryStrategy
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app import jobs
from app.extensions import db
from app.models import MailMessage, User
from app.services import clock
from app.services.transactions import transaction

#: The first retry after 2 s, then 4, 8, … (2 ** attempt): fifteen attempts span about 18 hours.
DELIVERY_RETRIES = RetryStrategy(max_attempts=15, exponential_wait=2)
#: What a mail server or the network answers when the message could not be handed over now.
DELIVERY_ERRORS = (OSError, smtplib.SMTPException)


class MailNotDelivered(Exception):
    """The SMTP server could not be reached or refused the message; the job is retried."""


def queue_mail(*, kind: str, to: User | str, subject: str, template: str, dedupe_key: str | None = None,
               attachment: tuple[str, bytes] | None = None, **context) -> MailMessage | None:
    """Write a message from ``templates/mail/<template>.txt`` and ``.html`` and defer its delivery, both in the
    caller's transaction (so a rolled-back write sends nothing). ``attachment`` is a PDF's file name and bytes.

    With ``dedupe_key``, a message that already exists under that key is not written again: None is returned.
    """
    user = to if isinstance(to, User) else None
    address = user.email if user is not None else to
    context.update(user=user, subject=subject)
    message = MailMessage(kind=kind, user_id=user.id if user else None, to_address=address, subject=subject,
                          text_body=render_template(f"mail/{template}.txt", **context),
                          html_body=render_template(f"mail/{template}.html", **context),
                          message_id=make_msgid(domain=_base_url().hostname or "localhost"), dedupe_key=dedupe_key,
                          attachment_name=attachment[0] if attachment else None,
                          attachment=attachment[1] if attachment else None)
    if dedupe_key is None:
        db.session.add(message)
        db.session.flush()
    else:
        try:
            with db.session.begin_nested():  # a twin under this key keeps the caller's transaction intact
                db.session.add(message)
        except IntegrityError:
            return None
    jobs.defer(deliver_mail, message_id=message.id)
    return message


def absolute_url(endpoint: str, **values) -> str:
    """A link for a mail, from APP_BASE_URL: a mail is read away from any request."""
    base = _base_url()
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


def _base_url():
    return urlsplit(current_app.config["APP_BASE_URL"])


@jobs.queue.task(name="deliver_mail", retry=DELIVERY_RETRIES)
@jobs.in_app_context
def deliver_mail(message_id: int) -> None:
    deliver(message_id)


def deliver(message_id: int) -> None:
    """Send one message (or keep it, with no MAIL_SERVER), once; a message already sent is left alone.

    Raises MailNotDelivered when the server cannot take it now, after recording the attempt on the message.
    """
    with transaction():
        message = db.session.scalars(select(MailMessage).where(MailMessage.id == message_id)
                                     .with_for_update()).one_or_none()
        if message is None or message.sent_at is not None:
            return
        try:
            message.delivery = _send(email_for(message))
            message.sent_at = clock.now()
            failure = None
        except DELIVERY_ERRORS as error:
            message.failed_attempts += 1
            message.last_error = f"{type(error).__name__}: {error}"[:1000]
            failure = error
    if failure is not None:
        raise MailNotDelivered(f"message {message_id} not delivered: {failure}") from failure


def email_for(message: MailMessage) -> EmailMessage:
    """The message as sent: plain text with an HTML alternative."""
    email = EmailMessage()
    email["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    email["To"] = message.to_address
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.created_at)
    email["Message-ID"] = message.message_id
    email.set_content(message.text_body)
    email.add_alternative(message.html_body, subtype="html")
    if message.attachment_name:
        email.add_attachment(message.attachment, maintype="application", subtype="pdf",
                             filename=message.attachment_name)
    return email


def _send(email: EmailMessage) -> str:
    config = current_app.config
    if not config["MAIL_SERVER"]:
        _keep(email)
        return "kept"
    timeout = config["MAIL_TIMEOUT_SECONDS"]
    smtp_class = smtplib.SMTP_SSL if config["MAIL_USE_SSL"] else smtplib.SMTP
    with smtp_class(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=timeout) as smtp:
        if config["MAIL_USE_TLS"] and not config["MAIL_USE_SSL"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        smtp.send_message(email)
    return "smtp"


def _keep(email: EmailMessage) -> None:
    """Development without a mail server: the message as a file anyone can open in a mail program."""
    folder = Path(current_app.config["MAIL_KEPT_FOLDER"] or Path(current_app.instance_path) / "mail")
    folder.mkdir(parents=True, exist_ok=True)
    name = email["Message-ID"].strip("<>").replace("/", "_")
    (folder / f"{name}.eml").write_bytes(email.as_bytes())
