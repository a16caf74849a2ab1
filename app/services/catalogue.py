"""A wholesaler's catalogue: add products, change prices, deactivate."""

from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.models import Product
from app.services import audit
from app.services.errors import NotFound, ValidationError
from app.services.money import parse_amount


def add_product(*, wholesaler_id: int, sku: str, name: str, unit_price: object,
                actor_id: int | None = None) -> Product:
    """A new active product. Raises ValidationError (blank fields, bad price, SKU already used)."""
    sku, name = _text(sku, "sku", 64), _text(name, "name", 200)
    product = Product(wholesaler_id=wholesaler_id, sku=sku, name=name,
                      unit_price=parse_amount(unit_price, field="unit_price"))
    db.session.add(product)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        raise ValidationError(f"SKU {sku} is already in the catalogue.", field_errors={"sku": "taken"}) from None
    audit.record(actor_id=actor_id, action="product.create", entity_type="product", entity_id=product.id,
                 after={"sku": sku, "name": name, "unit_price": str(product.unit_price)})
    db.session.commit()
    return product


def update_product(*, wholesaler_id: int, product_id: int, unit_price: object | None = None,
                   name: str | None = None, active: bool | None = None, actor_id: int | None = None) -> Product:
    """Change a product's price, name or availability; orders already placed keep their prices.

    Raises NotFound (not this wholesaler's product), ValidationError.
    """
    product = db.session.get(Product, product_id)
    if product is None or product.wholesaler_id != wholesaler_id:
        raise NotFound("No such product in your catalogue.")
    before = _snapshot(product)
    if unit_price is not None:
        product.unit_price = parse_amount(unit_price, field="unit_price")
    if name is not None:
        product.name = _text(name, "name", 200)
    if active is not None:
        product.active = active
    if _snapshot(product) != before:
        audit.record(actor_id=actor_id, action="product.update", entity_type="product", entity_id=product.id,
                     before=before, after=_snapshot(product))
    db.session.commit()
    return product


def _text(value: str | None, field: str, max_length: int) -> str:
    value = (value or "").strip()
    if not value or len(value) > max_length or not value.isprintable():
        raise ValidationError(f"{field.capitalize()} needs 1 to {max_length} printable characters.",
                              field_errors={field: "invalid"})
    return value


def _snapshot(product: Product) -> dict:
    return {"name": product.name, "unit_price": str(product.unit_price), "active": product.active}
