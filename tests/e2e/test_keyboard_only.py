"""Without a mouse: a retailer signs in and places an order, a wholesaler signs in and records a payment, with
the Tab, typing and Enter keys alone; every element reached on the way shows where the focus is."""

import re

import pytest
from playwright.sync_api import Page, expect

from app.models import Role
from tests.support.factory import PASSWORD

#: Enough Tab presses to cross the busiest page here; more means the element cannot be reached.
MAX_TABS = 60


@pytest.fixture
def shop(make):
    wholesaler = make.wholesaler(name="Northwind Supply")
    retailer = make.retailer(name="Corner Shop")
    account = make.account(retailer=retailer, wholesaler=wholesaler, credit_limit="2500.00")
    rice = make.product(wholesaler, unit_price="12.40")
    return {"account": account, "rice": rice,
            Role.RETAILER: make.user(Role.RETAILER, retailer=retailer),
            Role.WHOLESALER: make.user(Role.WHOLESALER, wholesaler=wholesaler)}


def tab_to(page: Page, matches: str) -> None:
    """Press Tab until the focused element matches the CSS selector ``matches``; each stop must show focus."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => { const e = document.activeElement, s = getComputedStyle(e);
            return {tag: e.tagName, shown: s.outlineStyle !== 'none' || s.boxShadow !== 'none'}; }""")
        if focused["tag"] != "BODY":
            assert focused["shown"], f"the focus on a {focused['tag']} is not visible"
        if page.evaluate("selector => document.activeElement.matches(selector)", matches):
            return
    raise AssertionError(f"{matches} cannot be reached with the Tab key")


def enter(page: Page) -> None:
    """Press Enter on a link or in a form, and wait for the page it leads to."""
    with page.expect_navigation():
        page.keyboard.press("Enter")


def sign_in(page: Page, user) -> None:
    page.goto("/login")
    tab_to(page, "input[name=email]")
    page.keyboard.type(user.email)
    tab_to(page, "input[name=password]")
    page.keyboard.type(PASSWORD)
    enter(page)


def sign_out(page: Page) -> None:
    if page.locator("label.menu-button").is_visible():  # on a phone, open the menu first, with the space bar
        tab_to(page, "#menu-toggle")
        page.keyboard.press("Space")
        expect(page.locator(".nav")).to_be_visible()
    tab_to(page, "form[action$='/logout'] button")
    enter(page)
    expect(page.get_by_text("You are signed out.")).to_be_visible()


@pytest.mark.parametrize("width", [1280, 390])
def test_an_order_and_a_payment_with_the_keyboard_alone(page, shop, width, browser_errors):
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, shop[Role.RETAILER])
    if width == 390:  # the menu is closed on a phone; the order link is on the page itself
        expect(page.locator(".nav")).to_be_hidden()
    tab_to(page, f"a[href$='/accounts/{shop['account'].id}/order']")
    enter(page)
    tab_to(page, f"input[name=quantity_{shop['rice'].id}]")
    page.keyboard.press("Control+A")
    page.keyboard.type("3")
    enter(page)
    expect(page.get_by_text(re.compile(r"Order #\d+ placed: 37\.20 EUR"))).to_be_visible()
    sign_out(page)

    sign_in(page, shop[Role.WHOLESALER])
    tab_to(page, f"a[href$='/wholesaler/accounts/{shop['account'].id}']")
    enter(page)
    tab_to(page, "#payment-amount")
    page.keyboard.type("20.00")
    tab_to(page, "#payment-reference")
    page.keyboard.type("Bank transfer 0042")
    enter(page)
    expect(page.get_by_text("Payment of 20.00 EUR recorded. Balance now 17.20 EUR.")).to_be_visible()
    sign_out(page)
    assert browser_errors == []
