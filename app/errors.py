"""Error pages, and the one place domain errors become responses."""

from flask import Flask, render_template

_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    500: "Something went wrong",
}


def register(app: Flask) -> None:
    for code in _TITLES:
        app.register_error_handler(code, _error_page)


def _error_page(error):
    code = getattr(error, "code", 500) or 500
    return render_template("errors/error.html", code=code, title=_TITLES.get(code, "Error")), code
