"""Who may open which page: roles here, tenancy in each query."""

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from app.models import Role


def role_required(*roles: Role):
    """Sign-in required; a signed-in user of another role gets 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = frozenset(roles)  # read by the tests that walk every page
        return wrapped

    return decorator
