"""Extension objects, created here and bound to the app in create_app."""

import logging

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Stable constraint names, so migrations can name what they create and drop.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
login_manager = LoginManager()
# Limits, keys and storage (RATELIMIT_STORAGE_URI) come from app.security and the settings.
limiter = Limiter(key_func=get_remote_address)


def end_database_session(error: BaseException | None) -> None:
    """Close the request's database session without letting a dead connection spoil the answer.

    Registered after Flask-SQLAlchemy's own teardown, so it runs first. Closing rolls back whatever
    the request left open; if the connection died after the view answered (the server restarted, the
    backend was terminated) that rollback raises, and out of the WSGI app the error would replace a
    finished response with the server's bare 500. The pool has already discarded the connection.
    """
    try:
        db.session.remove()
    except Exception:  # the answer is ready: all that is left is to forget the session
        logging.getLogger("app.database").warning("database session could not be closed", exc_info=True)
        db.session.registry.clear()
