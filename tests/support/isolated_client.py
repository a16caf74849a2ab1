"""The test client the app uses in tests: each request in an app context of its own, as in production."""

from flask.testing import FlaskClient


class IsolatedClient(FlaskClient):
    """Each request in an app context of its own, as in production: no ``g`` (and so no signed-in
    user) or database session is shared with the test or with other clients. Objects the test
    holds are not refreshed by a request: re-read them (``db.session.expire_all()``)."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            kwargs.setdefault("buffered", True)  # read streamed bodies while the context is open
            return super().open(*args, **kwargs)
