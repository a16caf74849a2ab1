"""Monthly statements by mail: from the first of each month (in the wholesaler's time zone), each retailer of a
wholesaler that mails them is sent last month's statement of account as a PDF, once per credit line and month
however often the job runs, to every retailer user who has not switched statements off.

A month that ended before the wholesaler switched them on is not sent; a line with no entries in the month and
nothing owed is not sent either (it has nothing to tell).
"""

from datetime import timedelta

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.dialects.postgresql import insert

from app import jobs
from app.extensions import db
from app.models import CreditAccount, Role, StatementSent, Wholesaler
from app.services import audit, clock, mail, notifications, statements
from app.services.actors import Actor, require_role
from app.services.transactions import transaction
from app.statement_pdf import file_name, statement_pdf

_NOT_SENT = select(CreditAccount.id).where(
    CreditAccount.wholesaler_id == bindparam("wholesaler_id"), CreditAccount.created_at < bindparam("closes"),
    ~exists().where(StatementSent.credit_account_id == CreditAccount.id,
                    StatementSent.period_start == bindparam("start"))).order_by(CreditAccount.id)


def set_statements_by_mail(actor: Actor, *, on: bool) -> Wholesaler:
    """The actor's wholesaler mails monthly statements from now on, or no longer. Audited. Raises Forbidden."""
    require_role(actor, Role.WHOLESALER)
    with transaction():
        wholesaler = db.session.get(Wholesaler, actor.wholesaler_id)
        if on != (wholesaler.statements_by_mail_since is not None):
            wholesaler.statements_by_mail_since = clock.now() if on else None
            audit.record(actor_id=actor.id, action="wholesaler.statements_by_mail", entity_type="wholesaler",
                         entity_id=wholesaler.id, before={"on": not on}, after={"on": on})
    return wholesaler


def send_statements() -> int:
    """One run: last month's statement for every line of every wholesaler that mails them and has not had it.
    Returns how many mails it wrote."""
    written = 0
    mailing = db.session.scalars(select(Wholesaler).where(Wholesaler.statements_by_mail_since.is_not(None))
                                 .order_by(Wholesaler.id)).all()
    for wholesaler in mailing:
        start, end = statements.previous_month(clock.business_date(wholesaler.time_zone))
        closes = clock.start_of_day(end + timedelta(days=1), wholesaler.time_zone)
        if wholesaler.statements_by_mail_since >= closes:
            continue  # switched on after that month ended: the first is next month's
        for account_id in db.session.scalars(_NOT_SENT, {"wholesaler_id": wholesaler.id, "closes": closes,
                                                         "start": start}).all():
            with transaction():
                written += _send(db.session.get(CreditAccount, account_id), start, end)
    return written


@jobs.queue.periodic(cron="7 * * * *")
@jobs.queue.task(name="send_statements", queueing_lock="send_statements", pass_context=False)
@jobs.in_app_context
def send_statements_job(timestamp: int) -> None:
    """Hourly, so each wholesaler's first of the month is met soon after its own midnight."""
    send_statements()


def _send(account: CreditAccount, start, end) -> int:
    """In one transaction: claim the line's month (a second run meets the claim and sends nothing), then mail it."""
    claimed = db.session.execute(insert(StatementSent).values(credit_account_id=account.id, period_start=start,
                                                              recipients=0, created_at=clock.now())
                                 .on_conflict_do_nothing().returning(StatementSent.credit_account_id)).first()
    if claimed is None:
        return 0
    shown = statements.statement_of_account(account, start, end)
    if not shown.lines and shown.closing_balance == 0:
        return 0
    people = notifications.recipients(account, "statement", (Role.RETAILER,))
    if people:
        document = (file_name(shown), statement_pdf(shown))
        period = f"{start:%B %Y}"
        link = mail.absolute_url("statements.page", account_id=account.id,
                                 **{"from": start.isoformat(), "to": end.isoformat()})
        for user in people:
            mail.queue_mail(kind="statement", to=user, template="statement", attachment=document,
                            subject=f"Statement of account from {account.wholesaler.name}: {period}",
                            statement=shown, period=period, currency=account.currency, link=link,
                            settings_link=mail.absolute_url("auth.notification_settings"))
        db.session.execute(update(StatementSent).where(StatementSent.credit_account_id == account.id,
                                                       StatementSent.period_start == start)
                           .values(recipients=len(people)))
    return len(people)
