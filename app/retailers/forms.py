"""The retailer's order form: one quantity per catalogue product, and a key that makes a resubmit harmless."""

from collections.abc import Sequence

from flask import current_app
from wtforms import SelectField, SubmitField
from wtforms.validators import NumberRange, Optional

from app.forms import IdempotentForm, WholeNumberField
from app.models import Product


class OrderForm(IdempotentForm):
    """Quantities only: prices and totals are never read from the browser, the service prices from the catalogue.
    A double click or a resubmit places one order: the key answers with the order already placed."""

    products: Sequence[Product] = ()
    #: "Hold credit" instead of "Place order": the same lines held at today's prices for this long.
    hold_for = SelectField("Hold for", default="86400", choices={
        "3600": "1 hour", "86400": "1 day", "259200": "3 days", "604800": "7 days", "2592000": "30 days"})
    hold = SubmitField("Hold credit")

    def quantity(self, product: Product) -> WholeNumberField:
        return self[f"quantity_{product.id}"]

    def lines(self) -> list[tuple[int, int]]:
        """(product id, quantity) for every product ordered; blank counts as 0 and is left out."""
        return [(p.id, self.quantity(p).data) for p in self.products if self.quantity(p).data]


def order_form(products: Sequence[Product]) -> OrderForm:
    """An order form with a ``quantity_<product id>`` field for each product, active or not, so a product
    deactivated while the form was open is refused by name rather than silently dropped."""
    max_quantity = current_app.config["MAX_LINE_QUANTITY"]

    class CatalogueOrderForm(OrderForm):
        pass

    for product in products:
        setattr(CatalogueOrderForm, f"quantity_{product.id}", WholeNumberField(
            f"Quantity of {product.name}", default=0,
            validators=[Optional(), NumberRange(min=0, max=max_quantity,
                                                message=f"Enter a whole number from 0 to {max_quantity:,}.")],
            render_kw={"step": 1, "inputmode": "numeric"}))
    form = CatalogueOrderForm()
    form.products = products
    if not form.is_submitted():
        form.new_key()
    return form
