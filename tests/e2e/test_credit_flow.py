"""The whole credit flow in a real browser: order, refusal, ledger, payment, block, refusal again.
Every page visited is saved to tests/e2e/artifacts/ to be looked at."""

import re

import pytest
from playwright.sync_api import Page, expect

from app.models import Role
from app.services import accounts, catalogue, orders
from app.services.actors import SYSTEM
from tests.support.actors import acting_retailer
from tests.support.factory import PASSWORD


@pytest.fixture
def northwind(make):
    """Northwind Supply with a small catalogue; Corner Shop with a 2,500.00 EUR line; a user per role."""
    wholesaler = make.wholesaler(name="Northwind Supply")
    shop = make.retailer(name="Corner Shop")
    deli = make.retailer(name="Harbour Deli")
    account = make.account(retailer=shop, wholesaler=wholesaler, credit_limit="2500.00")
    other = make.account(retailer=deli, wholesaler=wholesaler, credit_limit="12000.00")
    products = {name: catalogue.add_product(SYSTEM, wholesaler_id=wholesaler.id, sku=sku, name=name, unit_price=price)
                for sku, name, price in [("RICE-5", "Basmati rice 5 kg", "12.40"),
                                         ("OIL-1", "Olive oil 1 l", "8.95"),
                                         ("COFFEE-1", "Coffee beans 1 kg", "250.00")]}
    # Some history for the other retailer, so the dashboard has more than one row to compare.
    orders.place_order(acting_retailer(deli.id), wholesaler_id=wholesaler.id,
                       lines=[(products["Coffee beans 1 kg"].id, 20)])
    accounts.record_payment(SYSTEM, other.id, amount="1500.00", reference="Transfer 0417")
    return {
        "account": account, "products": products,
        Role.RETAILER: make.user(Role.RETAILER, retailer=shop, email="buyer@corner.example"),
        Role.WHOLESALER: make.user(Role.WHOLESALER, wholesaler=wholesaler, email="credit@northwind.example"),
        Role.ADMIN: make.user(Role.ADMIN, email="admin@example.com"),
    }


def sign_in(page: Page, user) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You are signed out.")).to_be_visible()


def available_on_dashboard(page: Page) -> str:
    row = page.get_by_role("row", name=re.compile("Northwind Supply"))
    return row.get_by_role("cell").nth(3).inner_text().strip()


def test_order_refusal_ledger_payment_block_and_refusal_again(page, northwind, screenshot, browser_errors):
    # A retailer signs in, orders, and sees the available credit fall.
    sign_in(page, northwind[Role.RETAILER])
    expect(page.get_by_role("heading", name="Your credit lines")).to_be_visible()
    assert available_on_dashboard(page) == "2,500.00 EUR"
    screenshot(page, "flow_01_retailer_dashboard")

    page.get_by_role("link", name="Order", exact=True).click()
    expect(page.get_by_role("heading", name="Order from Northwind Supply")).to_be_visible()
    page.get_by_label("Basmati rice 5 kg").fill("10")
    page.get_by_label("Coffee beans 1 kg").fill("1")
    expect(page.locator("#order-total")).to_have_text("374.00 EUR")  # the running total, from static/js
    screenshot(page, "flow_02_order_form")
    page.get_by_role("button", name="Place order").click()
    expect(page.get_by_text(re.compile(r"Order #\d+ placed: 374\.00 EUR\. Available credit now 2,126\.00 EUR\."))
           ).to_be_visible()
    screenshot(page, "flow_03_order_placed")

    page.get_by_role("link", name="Credit lines").click()
    assert available_on_dashboard(page) == "2,126.00 EUR"
    page.get_by_role("link", name="Orders").click()
    expect(page.get_by_role("cell", name="374.00 EUR")).to_be_visible()
    screenshot(page, "flow_04_retailer_orders")

    # An order over the limit is refused with the available amount, and the form stays filled.
    page.get_by_role("link", name="Credit lines").click()
    page.get_by_role("link", name="Order", exact=True).click()
    page.get_by_label("Coffee beans 1 kg").fill("9")
    expect(page.get_by_text("This is more than your available credit")).to_be_visible()
    page.get_by_role("button", name="Place order").click()
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("INSUFFICIENT_CREDIT")
    expect(refusal).to_contain_text("This order comes to 2,250.00 EUR, but only 2,126.00 EUR of credit is available.")
    expect(refusal).to_contain_text("Available credit: 2,126.00 EUR")
    expect(page.get_by_label("Coffee beans 1 kg")).to_have_value("9")
    screenshot(page, "flow_05_insufficient_credit")
    sign_out(page)

    # The wholesaler sees the DEBIT in the ledger and records a payment.
    sign_in(page, northwind[Role.WHOLESALER])
    expect(page.get_by_role("heading", name="Your retailers' accounts")).to_be_visible()
    screenshot(page, "flow_06_wholesaler_dashboard")
    page.get_by_role("link", name="Corner Shop").click()
    debit = page.locator("table.ledger tbody tr").first
    expect(debit).to_contain_text("DEBIT")
    expect(debit).to_contain_text("+374.00 EUR")
    page.get_by_label("Amount received").fill("200.00")
    page.get_by_label("Reference").fill("Bank transfer 2024-118")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_text("Payment of 200.00 EUR recorded. Balance now 174.00 EUR.")).to_be_visible()
    expect(page.locator("table.ledger tbody tr").first).to_contain_text("CREDIT")
    screenshot(page, "flow_07_wholesaler_account_after_payment")
    page.get_by_label("Amount received").fill("1,000")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_text("Enter a number such as 1234.50")).to_be_visible()
    screenshot(page, "flow_08_wholesaler_bad_payment")
    page.get_by_role("link", name="Catalogue").click()
    screenshot(page, "flow_09_wholesaler_catalogue")
    page.get_by_role("link", name="Orders", exact=True).click()
    screenshot(page, "flow_10_wholesaler_orders")
    sign_out(page)

    # An admin blocks the account, with a reason.
    sign_in(page, northwind[Role.ADMIN])
    expect(page.get_by_role("heading", name="All credit accounts")).to_be_visible()
    row = page.get_by_role("row", name=re.compile("Corner Shop"))
    row.get_by_text("Block…").click()
    page.get_by_label("Reason for blocking Corner Shop with Northwind Supply").fill("")
    screenshot(page, "flow_11a_admin_block_form")
    row.get_by_role("button", name="Block account").click()
    expect(page.get_by_text("Give a reason: it is recorded with the change.")).to_be_visible()
    screenshot(page, "flow_11b_admin_block_needs_reason")
    page.get_by_label("Reason for blocking Corner Shop with Northwind Supply").fill("Payments 60 days overdue")
    row.get_by_role("button", name="Block account").click()
    expect(page.get_by_text("is blocked: new orders are refused until it is unblocked")).to_be_visible()
    screenshot(page, "flow_11_admin_blocked")
    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("cell", name="credit_account.block")).to_be_visible()
    screenshot(page, "flow_12_admin_audit_log")
    page.get_by_role("link", name="Users").click()
    screenshot(page, "flow_13_admin_users")
    page.get_by_role("link", name="Organisations").click()
    screenshot(page, "flow_14_admin_organisations")
    sign_out(page)

    # The retailer's next order says CREDIT_BLOCKED.
    sign_in(page, northwind[Role.RETAILER])
    screenshot(page, "flow_15_retailer_dashboard_blocked")
    page.get_by_role("link", name="Catalogue").click()
    page.get_by_label("Olive oil 1 l").fill("2")
    page.get_by_role("button", name="Place order").click()
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("CREDIT_BLOCKED")
    expect(refusal).to_contain_text("Please contact Northwind Supply to have the account unblocked.")
    expect(page.get_by_label("Olive oil 1 l")).to_have_value("2")
    screenshot(page, "flow_16_credit_blocked")

    # Cancelling the first order, with its confirmation step.
    page.get_by_role("link", name="Orders").click()
    page.get_by_role("link", name=re.compile(r"#\d+")).first.click()
    screenshot(page, "flow_17_order_detail")
    page.get_by_role("link", name="Cancel order…").click()
    screenshot(page, "flow_18_cancel_confirmation")
    page.get_by_role("button", name="Yes, cancel the order").click()
    expect(page.get_by_text(re.compile(r"cancelled: 374\.00 EUR returned to the credit line"))).to_be_visible()
    screenshot(page, "flow_19_order_cancelled")

    # The four refused forms came back as 422 pages, shown as pages (the checks above read them); nothing else failed.
    account_id = northwind["account"].id
    assert [re.sub(r"http://[^/]+", "", e) for e in browser_errors if not e.endswith("/favicon.ico")] == [
        f"422 /retailer/accounts/{account_id}/order", f"422 /wholesaler/accounts/{account_id}/payment",
        f"422 /admin/accounts/{account_id}/block", f"422 /retailer/accounts/{account_id}/order"]
