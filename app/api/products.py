"""Catalogue endpoints: wholesalers add products; everyone lists the products they may see."""

from app.api import bp, documents
from app.api.auth import ANY_ROLE, allow, api_user
from app.api.bodies import MAX_ID, Field, json_body, query_args, query_integer
from app.api.schema import ProductBody
from app.extensions import db
from app.models import Product, Role
from app.services import catalogue, tenancy


@bp.post("/products")
@allow(Role.WHOLESALER)
def add_product():
    product = catalogue.add_product(api_user(), **json_body(ProductBody).model_dump())
    return documents.product(product), 201


@bp.get("/products")
@allow(*ANY_ROLE)
def list_products():
    args = query_args(wholesaler_id=Field(query_integer(1, MAX_ID), required=False))
    query = tenancy.products_visible_to(api_user())
    if args["wholesaler_id"] is not None:
        query = query.where(Product.wholesaler_id == args["wholesaler_id"])
    return {"products": [documents.product(p) for p in db.session.scalars(query.order_by(Product.id))]}
