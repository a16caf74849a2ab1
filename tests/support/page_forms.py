"""Filling in the app's real forms in tests: read a page's form, change some fields, submit it."""

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from tests.support.auth import csrf_token


@dataclass
class Form:
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _FormParser(HTMLParser):
    """Every <form> with the values a browser would submit unchanged (inputs, selected options, textareas)."""

    def __init__(self, page_url: str):
        super().__init__()
        self.page_url, self.forms, self._select, self._textarea = page_url, [], None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append(Form(a.get("action") or self.page_url, (a.get("method") or "get").lower()))
        elif not self.forms or "name" not in a and tag != "option":
            return
        elif tag == "input" and a.get("type") not in ("submit", "button", "checkbox", "radio"):
            self.forms[-1].fields[a["name"]] = a.get("value") or ""
        elif tag == "select":
            self._select = a["name"]
            self.forms[-1].fields.setdefault(self._select, "")
        elif tag == "option" and self._select and ("selected" in a):
            self.forms[-1].fields[self._select] = a.get("value", "")
        elif tag == "textarea":
            self._textarea = a["name"]
            self.forms[-1].fields[self._textarea] = ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.forms[-1].fields[self._textarea] += data


def forms_in(response, url: str = "") -> list[Form]:
    """The forms of a page already fetched, as the browser would submit them now."""
    parser = _FormParser(url.split("?")[0])
    parser.feed(response.get_data(as_text=True))
    return parser.forms


def forms_on(client, url: str) -> list[Form]:
    response = client.get(url)
    assert response.status_code == 200, f"GET {url} gave {response.status_code}"
    return forms_in(response, url)


def form_on(client, url: str, action: str | None = None) -> Form:
    """The page's POST form whose action ends with ``action`` (or its only POST form)."""
    candidates = [f for f in forms_on(client, url) if f.method == "post" and not f.action.endswith("/logout")]
    if action is not None:
        candidates = [f for f in candidates if f.action.split("?")[0].endswith(action)]
    assert len(candidates) == 1, f"{len(candidates)} forms on {url} for {action!r}"
    return candidates[0]


def submit(client, url: str, values: dict | None = None, action: str | None = None, prefix: str = "",
           follow_redirects: bool = False):
    """Fill in the form on page ``url`` as a user would (``values`` by field name, prefix added) and submit it."""
    form = form_on(client, url, action)
    data = dict(form.fields)
    for name, value in (values or {}).items():
        key = f"{prefix}-{name}" if prefix else name
        assert key in data, f"no field {key!r} in the form on {url}: {sorted(data)}"
        data[key] = value
    return client.post(form.action, data=data, follow_redirects=follow_redirects)


def post_with_token(client, action: str, data: dict | None = None, page: str = "/"):
    """POST straight to ``action`` with a valid CSRF token and no form around it (extra or tampered fields)."""
    return client.post(action, data={"csrf_token": csrf_token(client, page), **(data or {})})


def readable(response) -> str:
    """The page as a user reads it: tags dropped, whitespace collapsed."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))))
