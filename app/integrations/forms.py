"""The webhook endpoint form."""

from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, URLField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from app.services.webhooks import EVENT_TYPES, URL_MAX_LENGTH


class EndpointForm(FlaskForm):
    url = URLField("URL", validators=[DataRequired(), Length(max=URL_MAX_LENGTH)],
                   render_kw={"placeholder": "https://erp.example.com/creditline/events"})
    events = SelectMultipleField("Events", choices=EVENT_TYPES, validators=[DataRequired("Choose at least one event.")],
                                 widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
