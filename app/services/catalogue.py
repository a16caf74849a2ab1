"""A wholesaler's catalogue: add products, change prices, deactivate."""

from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Product, Role, Wholesaler
from app.services import audit
from app.services.actors import Actor, require_role
from app.services.errors import NotFound, ValidationError
from app.services.money import parse_amount
from app.services.tenancy import catalogue_product_for
from app.services.text import NAME_MAX_LENGTH, SKU_MAX_LENGTH, one_line
from app.services.transactions import transaction


def add_product(actor: Actor, *, sku: str, name: str, unit_price: object,
                wholesaler_id: int | None = None) -> Product:
    """A new active product in the wholesaler's own catalogue; admins name the wholesaler.

    Raises Forbidden, NotFound (another wholesaler's catalogue), ValidationError (blank fields, bad price, SKU
    already used).
    """
    require_role(actor, Role.WHOLESALER, Role.ADMIN)
    if actor.role == Role.WHOLESALER:
        if wholesaler_id not in (None, actor.wholesaler_id):
            raise NotFound("No such wholesaler.")
        wholesaler_id = actor.wholesaler_id
    elif wholesaler_id is None or db.session.get(Wholesaler, wholesaler_id) is None:
        raise ValidationError("Choose the wholesaler whose catalogue this is.",
                              field_errors={"wholesaler_id": "required" if wholesaler_id is None else "not found"})
    sku = one_line(sku, field="sku", max_length=SKU_MAX_LENGTH)
    name = one_line(name, field="name", max_length=NAME_MAX_LENGTH)
    product = Product(wholesaler_id=wholesaler_id, sku=sku, name=name,
                      unit_price=parse_amount(unit_price, field="unit_price"))
    with transaction():
        db.session.add(product)
        try:
            db.session.flush()
        except IntegrityError:
            raise ValidationError(f"SKU {sku} is already in the catalogue.", field_errors={"sku": "taken"}) from None
        audit.record(actor_id=actor.id, action="product.create", entity_type="product", entity_id=product.id,
                     after={"sku": sku, "name": name, "unit_price": str(product.unit_price)})
    return product


def update_product(actor: Actor, product_id: int, *, unit_price: object | None = None, name: str | None = None,
                   active: bool | None = None) -> Product:
    """Change a product's price, name or availability; orders already placed keep their prices.

    Raises Forbidden, NotFound (not this wholesaler's product), ValidationError.
    """
    require_role(actor, Role.WHOLESALER, Role.ADMIN)
    with transaction():
        product = catalogue_product_for(actor, product_id)
        before = _snapshot(product)
        if unit_price is not None:
            product.unit_price = parse_amount(unit_price, field="unit_price")
        if name is not None:
            product.name = one_line(name, field="name", max_length=NAME_MAX_LENGTH)
        if active is not None:
            product.active = active
        if _snapshot(product) != before:
            audit.record(actor_id=actor.id, action="product.update", entity_type="product", entity_id=product.id,
                         before=before, after=_snapshot(product))
    return product


def _snapshot(product: Product) -> dict:
    return {"name": product.name, "unit_price": str(product.unit_price), "active": product.active}
