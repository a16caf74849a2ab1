"""Flask commands: seed-demo and the operators' tools."""

import os
import signal
import subprocess
import sys

import click
from flask import Flask, current_app

from app import demo, jobs
from app.demo import DEMO_PASSWORD
from app.extensions import db
from app.models import CreditAccount, LedgerEntry, Role, User, Wholesaler
from app.services import directory, dunning, holds, statement_mail, tokens
from app.services.actors import SYSTEM
from app.services.errors import Refusal
from app.services.ledger_check import find_ledger_problems


def register(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(verify_ledger)
    app.cli.add_command(create_admin)
    app.cli.add_command(create_api_token)
    app.cli.add_command(revoke_api_token)
    app.cli.add_command(worker)
    app.cli.add_command(send_reminders)
    app.cli.add_command(send_statements)
    app.cli.add_command(release_expired_holds)
    app.cli.add_command(dev_server)


@click.command("worker")
@click.option("--concurrency", type=click.IntRange(1, 64), default=None,
              help="Jobs run at once (default: WORKER_CONCURRENCY).")
@click.option("--once", is_flag=True, help="Run the jobs that are due, then stop.")
def worker(concurrency: int | None, once: bool) -> None:
    """Run background jobs (mail, reminders) until stopped; SIGINT or SIGTERM lets the jobs in hand finish."""
    jobs.run_worker(current_app._get_current_object(), concurrency=concurrency, wait=not once)


@click.command("send-reminders")
def send_reminders() -> None:
    """Run the dunning now (the worker runs it every 15 minutes): reminders due and overdue-hold notices."""
    written = dunning.send_reminders()
    click.echo(f"{written} reminder mail(s) written; the worker delivers them.")


@click.command("send-statements")
def send_statements() -> None:
    """Mail last month's statements now, where not yet sent (the worker does it every hour)."""
    written = statement_mail.send_statements()
    click.echo(f"{written} statement mail(s) written; the worker delivers them.")


@click.command("release-expired-holds")
def release_expired_holds() -> None:
    """Record as expired the credit holds past their expiry (the worker does it every minute; an expired hold
    counts for nothing from its expiry on either way)."""
    click.echo(f"{holds.expire_holds()} expired hold(s) recorded.")


@click.command("dev-server")
@click.option("--host", default="127.0.0.1")
@click.option("--port", type=int, default=5000)
def dev_server(host: str, port: int) -> None:
    """Development: the web server and a job worker beside it; Ctrl-C (or SIGTERM) stops both."""
    from werkzeug.serving import run_simple

    worker_process = subprocess.Popen([sys.executable, "-m", "flask", "worker"])
    try:
        # SIGTERM ends the server like Ctrl-C, so the worker is stopped below whichever ends it; and Ctrl-C works
        # even in a process started with SIGINT ignored (as a shell does for a command run in the background).
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        run_simple(host, port, current_app._get_current_object(), threaded=True)
    except KeyboardInterrupt:
        pass
    finally:
        worker_process.terminate()
        try:
            worker_process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker_process.kill()


@click.command("verify-ledger")
def verify_ledger() -> None:
    """Recompute every account from its ledger; exit 1 naming each mismatch."""
    problems = find_ledger_problems()
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise SystemExit(1)
    accounts = db.session.scalar(db.select(db.func.count(CreditAccount.id)))
    entries = db.session.scalar(db.select(db.func.count(LedgerEntry.id)))
    click.echo(f"Ledger verified: {accounts} accounts, {entries} entries, no mismatch.")


@click.command("seed-demo")
def seed_demo() -> None:
    """Load demo organisations, catalogues, credit accounts and one user per role (once)."""
    if db.session.scalar(db.select(User.id).limit(1)) is not None or \
            db.session.scalar(db.select(Wholesaler.id).limit(1)) is not None:
        click.echo("Demo data is already loaded.")
    else:
        demo.load()
        click.echo("Demo data loaded.")
    click.echo(f"Demo sign-ins (password for each: {DEMO_PASSWORD}):")
    for user in db.session.scalars(db.select(User).order_by(User.id)):
        click.echo(f"  {user.role.value:<10} {user.email}")


@click.command("create-admin")
@click.option("--email", required=True, help="The new admin's email address.")
def create_admin(email: str) -> None:
    """Create an admin user; the password comes from ADMIN_PASSWORD, or is asked for."""
    password = os.environ.get("ADMIN_PASSWORD") or click.prompt(
        "Password", hide_input=True, confirmation_prompt=True)
    try:
        user = directory.create_user(SYSTEM, email=email, password=password, role=Role.ADMIN)
    except Refusal as error:
        raise click.ClickException(error.message) from None
    click.echo(f"Admin {user.email} created (user id {user.id}).")


@click.command("create-api-token")
@click.option("--email", required=True, help="The user the token acts as.")
@click.option("--name", default=None, help="A label, e.g. the system that will use it.")
def create_api_token(email: str, name: str | None) -> None:
    """Issue an API token for a user and print it: the only time it is shown."""
    user = _user_by_email(email)
    try:
        issued = tokens.issue_token(SYSTEM, user_id=user.id, name=name)
    except Refusal as error:
        raise click.ClickException(error.message) from None
    click.echo(f"API token for {user.email} ({user.role.value}), prefix {issued.token.prefix}.", err=True)
    click.echo("It is shown only this once; store it now:", err=True)
    click.echo(issued.secret)  # alone on stdout, so scripts can capture it


@click.command("revoke-api-token")
@click.option("--email", required=True, help="The user whose token to revoke.")
@click.option("--prefix", required=True, help="The token's prefix, as create-api-token printed it.")
def revoke_api_token(email: str, prefix: str) -> None:
    """Revoke a user's token at once: every request with it gets 401 from now on."""
    user = _user_by_email(email)
    matching = [t for t in tokens.tokens_of(user.id) if t.prefix == prefix and t.revoked_at is None]
    if not matching:
        raise click.ClickException(f"{user.email} has no active token with prefix {prefix}.")
    for token in matching:
        tokens.revoke_token(SYSTEM, token.id)
    click.echo(f"Revoked {len(matching)} token(s) of {user.email} with prefix {prefix}.")


def _user_by_email(email: str) -> User:
    user = db.session.scalar(db.select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"No user with email {email}.")
    return user
