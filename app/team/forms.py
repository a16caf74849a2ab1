"""The team page's own form: a buyer's per-order limit, set by an approver."""

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Optional

from app.forms import MoneyAmount


class OrderLimitForm(FlaskForm):
    order_limit = StringField("Order limit", validators=[Optional(), MoneyAmount(allow_zero=True)],
                              render_kw={"inputmode": "decimal", "autocomplete": "off", "placeholder": "No limit"})
