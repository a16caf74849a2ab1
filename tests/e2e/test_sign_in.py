"""Signing in through the real form in a real browser."""

from app.models import Role
from tests.support.factory import PASSWORD


def test_a_retailer_signs_in_and_lands_on_the_dashboard(page, make, screenshot, browser_errors):
    wholesaler = make.wholesaler(name="Northwind Supply")
    retailer = make.retailer(name="Corner Shop")
    make.account(retailer=retailer, wholesaler=wholesaler, credit_limit="2500.00", balance="400.00")
    user = make.user(Role.RETAILER, retailer=retailer, email="shop@example.com")

    page.goto("/")
    assert page.url.endswith("/login")
    screenshot(page, "sign_in")

    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url("**/retailer/")
    assert page.get_by_role("heading", name="Your credit lines").is_visible()
    assert page.get_by_text("Northwind Supply").is_visible()
    assert page.get_by_text("shop@example.com").is_visible()
    screenshot(page, "retailer_dashboard")
    # No favicon exists yet, and every browser asks for /favicon.ico on its own.
    assert [e for e in browser_errors if not e.endswith("/favicon.ico")] == []
