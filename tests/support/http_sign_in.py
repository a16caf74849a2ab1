"""Signing in over real HTTP (gunicorn instances): the sign-in form fetched and posted, the session cookie kept."""

import re
from http.cookies import SimpleCookie

from tests.support.http_harness import call


def sign_in(base: str, email: str, password: str, cookie: str = "") -> str | None:
    """The real sign-in form: fetch it (CSRF token and session cookie), post it; the session cookie after."""
    page = call(base, "GET", "/login", headers={"Cookie": cookie} if cookie else None)
    cookie = merged_cookie(cookie, page.headers["set-cookie-all"])
    token = re.search(rb'name="csrf_token"[^>]*?value="([^"]+)"', page.body).group(1).decode()
    reply = attempt_sign_in(base, email, password, cookie, token)
    return merged_cookie(cookie, reply.headers.get("set-cookie-all", [])) if reply.status == 302 else None


def attempt_sign_in(base, email, password, cookie, token):
    return call(base, "POST", "/login", headers={"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"},
                form={"email": email, "password": password, "csrf_token": token})


def merged_cookie(cookie: str, set_cookies: list[str]) -> str:
    jar = SimpleCookie(cookie)
    for header in set_cookies:
        jar.load(header)
    return "; ".join(f"{name}={morsel.value}" for name, morsel in jar.items())
