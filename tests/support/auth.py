"""Signing a test client in and out through the real forms, with the CSRF token a browser would send."""

import re

from tests.support.factory import PASSWORD


def csrf_token(client, url="/login") -> str:
    """The CSRF token a real browser would find in the page's form."""
    page = client.get(url, follow_redirects=True).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*?value="([^"]+)"', page).group(1)


class Auth:
    """Signs a test client in and out through the real forms, CSRF tokens included."""

    def __init__(self, client):
        self.client = client

    def login(self, user, password=PASSWORD):
        return self.client.post("/login", data={"email": user.email, "password": password,
                                                "csrf_token": csrf_token(self.client)})

    def logout(self):
        return self.client.post("/logout", data={"csrf_token": csrf_token(self.client, "/")},
                                follow_redirects=False)
