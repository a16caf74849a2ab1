"""Pages not on the main flow, in a real browser: long ledgers, empty states, error pages, and ordering
with JavaScript switched off. Each is saved to tests/e2e/artifacts/ to be looked at."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from playwright.sync_api import expect
from sqlalchemy import select

from app import demo
from app.models import AccountStatus, CreditAccount, EntryType, LedgerEntry, OverduePolicy, Retailer, Role, Wholesaler
from app.services import accounts, catalogue, clock, orders
from app.services.actors import SYSTEM
from tests.support.actors import acting_retailer, acting_wholesaler
from tests.support.factory import PASSWORD


def sign_in(page, user) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def six_weeks_of_history(db, account: CreditAccount) -> None:
    """Invoices and payments over six weeks, written with their past dates (only UPDATE and DELETE are
    refused on the ledger), so the chart has a shape to draw."""
    balance, start = Decimal("0.00"), datetime.now(UTC) - timedelta(days=42)
    for day in range(0, 42, 3):
        invoice = Decimal(900 + (day * 37) % 700)
        kind, amount, memo = ((EntryType.ADJUSTMENT, invoice, f"Invoice {1000 + day}") if day % 2 == 0 else
                              (EntryType.CREDIT, Decimal(800 + (day * 53) % 500), f"Transfer {2000 + day}"))
        balance += amount if kind == EntryType.ADJUSTMENT else -amount
        db.session.add(LedgerEntry(credit_account_id=account.id, type=kind, amount=amount, balance_after=balance,
                                   memo=memo, created_at=start + timedelta(days=day)))
    account.balance = balance
    db.session.commit()


def test_a_busy_wholesaler_account(page, make, db, screenshot, browser_errors):
    wholesaler = make.wholesaler(name="Acme Foods Wholesale")
    retailers = [make.retailer(name=n) for n in ["Corner Grocery", "Harbour Deli", "Market Street Mini-Mart",
                                                 "The Very Long Named Neighbourhood Convenience Store Ltd"]]
    account = make.account(retailer=retailers[0], wholesaler=wholesaler, credit_limit="10000.00")
    six_weeks_of_history(db, account)
    accounts.update_account(SYSTEM, account.id, credit_limit="12500.00")
    make.account(retailer=retailers[1], wholesaler=wholesaler, credit_limit="5000.00", balance="4750.00")
    make.account(retailer=retailers[2], wholesaler=wholesaler, credit_limit="2500.00", balance="-120.00")
    make.account(retailer=retailers[3], wholesaler=wholesaler, credit_limit="0.00", balance="0.00",
                 status=AccountStatus.BLOCKED, blocked_reason="Cheque returned unpaid")
    rice = catalogue.add_product(SYSTEM, wholesaler_id=wholesaler.id, sku="RICE-5", name="Basmati rice 5 kg",
                                 unit_price="12.40")
    for quantity in (40, 25, 60):
        orders.place_order(acting_retailer(retailers[0].id), wholesaler_id=wholesaler.id, lines=[(rice.id, quantity)])
    catalogue.update_product(acting_wholesaler(wholesaler.id),
                             catalogue.add_product(SYSTEM, wholesaler_id=wholesaler.id, sku="OLD-1",
                                                   name="Discontinued tea", unit_price="3.10").id,
                             active=False)

    sign_in(page, make.user(Role.WHOLESALER, wholesaler=wholesaler))
    screenshot(page, "gallery_01_wholesaler_dashboard")
    page.goto("/wholesaler/?sort=-utilisation")
    screenshot(page, "gallery_02_wholesaler_dashboard_by_utilisation")
    page.get_by_role("link", name="Corner Grocery").click()
    expect(page.locator("svg.chart")).to_be_visible()
    screenshot(page, "gallery_03_wholesaler_account_history")
    page.get_by_label("Type").select_option("CREDIT")
    page.get_by_role("button", name="Filter").click()
    screenshot(page, "gallery_04_ledger_filtered")
    page.goto("/wholesaler/catalogue")
    page.get_by_role("row", name="RICE-5").get_by_role("link", name="Edit").click()
    screenshot(page, "gallery_05_edit_product")
    page.goto("/wholesaler/accounts/999999")
    expect(page.get_by_role("heading", name="404 · Not found")).to_be_visible()
    screenshot(page, "gallery_06_not_found")
    page.goto("/admin/")
    expect(page.get_by_role("heading", name="403 · Not allowed")).to_be_visible()
    screenshot(page, "gallery_07_forbidden")
    unexpected = [e for e in browser_errors if not e.endswith(("/favicon.ico", "/999999", "/admin/"))]
    assert unexpected == []


def test_empty_states(page, make, screenshot):
    sign_in(page, make.user(Role.RETAILER, retailer=make.retailer(name="Brand New Shop")))
    expect(page.get_by_text("No credit lines yet")).to_be_visible()
    screenshot(page, "gallery_08_retailer_no_credit_lines")
    page.get_by_role("link", name="Orders").click()
    expect(page.get_by_text("No orders yet")).to_be_visible()
    screenshot(page, "gallery_09_retailer_no_orders")
    page.get_by_role("button", name="Sign out").click()

    new_wholesaler = make.wholesaler(name="Brand New Wholesale")
    make.product(new_wholesaler)
    sign_in(page, make.user(Role.WHOLESALER, wholesaler=new_wholesaler))
    expect(page.get_by_text("Getting started")).to_be_visible()
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 800})
        screenshot(page, f"gallery_08b_wholesaler_first_steps_{width}")
    page.set_viewport_size({"width": 1280, "height": 800})
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, make.user(Role.ADMIN))
    expect(page.get_by_text("No credit accounts yet")).to_be_visible()
    screenshot(page, "gallery_10_admin_no_accounts")
    page.get_by_role("link", name="Open an account").click()
    screenshot(page, "gallery_11_admin_open_account_empty")


def test_the_order_form_works_without_javascript(browser, live_server, make, screenshot):
    wholesaler = make.wholesaler(name="Nordic Beverages")
    retailer = make.retailer(name="Corner Grocery")
    make.account(retailer=retailer, wholesaler=wholesaler, credit_limit="500.00")
    catalogue.add_product(SYSTEM, wholesaler_id=wholesaler.id, sku="COLA-24", name="Cola, 24 cans", unit_price="11.50")
    user = make.user(Role.RETAILER, retailer=retailer)

    context = browser.new_context(base_url=live_server, java_script_enabled=False,
                                  viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        sign_in(page, user)
        page.get_by_role("link", name="Order", exact=True).click()
        page.get_by_label("Cola, 24 cans").fill("50")
        page.get_by_role("button", name="Place order").click()
        # Without the script there is no running total, so the server shows it with the refusal.
        expect(page.get_by_role("alert")).to_contain_text("INSUFFICIENT_CREDIT")
        expect(page.locator("#order-total")).to_have_text("575.00 EUR")
        screenshot(page, "gallery_12_no_javascript_refusal")
        page.get_by_label("Cola, 24 cans").fill("40")
        page.get_by_role("button", name="Place order").click()
        expect(page.get_by_text("placed: 460.00 EUR. Available credit now 40.00 EUR.")).to_be_visible()
    finally:
        context.close()


def test_a_payment_sent_twice_is_recorded_once(page, make, db, screenshot, browser_errors):
    """The form's key, sent again (a resubmit after a lost answer), replays the first payment."""
    account = make.account(retailer=make.retailer(name="Corner Grocery"),
                           wholesaler=make.wholesaler(name="Acme Foods Wholesale"), credit_limit="2000.00",
                           balance="800.00")
    sign_in(page, make.user(Role.WHOLESALER, wholesaler=account.wholesaler))
    page.goto(f"/wholesaler/accounts/{account.id}")
    page.get_by_label("Amount received").fill("250.00")
    page.get_by_label("Reference").fill("Bank transfer 2024-118")
    # The first send's answer never reaches the browser: the same form, key included, posted behind its back.
    page.evaluate("""async () => {
        const form = document.querySelector("form[action$='/payment']");
        await fetch(form.action, {method: "POST", body: new FormData(form), redirect: "manual"});
    }""")
    page.get_by_role("button", name="Record payment").click()
    expect(page.get_by_text("was already recorded")).to_be_visible()
    expect(page.get_by_role("cell", name="Bank transfer 2024-118")).to_have_count(1)
    expect(page.get_by_text("550.00 EUR").first).to_be_visible()
    screenshot(page, "gallery_13_payment_sent_twice")
    assert browser_errors == []


def test_receivables_in_the_demo_book(page, make, db, screenshot, browser_errors):
    """The demo's months of trading: open items with due dates, the overdue hold, a remittance, at both widths."""
    demo.load()
    harbour = db.session.scalar(select(CreditAccount).join(Retailer).where(Retailer.name == "Harbour Deli"))
    corner = db.session.scalar(select(CreditAccount).join(Retailer).join(
        Wholesaler, Wholesaler.id == CreditAccount.wholesaler_id).where(
        Retailer.name == "Corner Grocery", Wholesaler.name == "Acme Foods Wholesale"))
    buyer = make.user(Role.RETAILER, retailer=harbour.retailer)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 800})
        page.context.clear_cookies()
        sign_in(page, make.user(Role.WHOLESALER, wholesaler=harbour.wholesaler))
        screenshot(page, f"receivables_01_book_{width}")
        page.goto(f"/wholesaler/accounts/{harbour.id}")
        expect(page.get_by_text("New orders are held")).to_be_visible()
        screenshot(page, f"receivables_02_account_on_hold_{width}")
        page.goto(f"/wholesaler/accounts/{corner.id}")
        screenshot(page, f"receivables_03_account_paying_{width}")
        page.goto("/wholesaler/ageing?sort=-total")
        expect(page.get_by_role("cell", name="Harbour Deli")).to_be_visible()
        screenshot(page, f"receivables_06_book_ageing_{width}")
        page.context.clear_cookies()
        sign_in(page, buyer)
        screenshot(page, f"receivables_04_retailer_held_{width}")
        page.goto(f"/retailer/accounts/{harbour.id}/statement")
        expect(page.get_by_text("now to keep ordering")).to_be_visible()
        screenshot(page, f"receivables_07_statement_{width}")
        page.goto(f"/retailer/accounts/{harbour.id}/order")
        page.locator("input.qty").first.fill("2")
        page.get_by_role("button", name="Place order").click()
        expect(page.get_by_text("A payment is overdue")).to_be_visible()
        screenshot(page, f"receivables_05_order_refused_overdue_{width}")
    assert [e for e in browser_errors if not e.startswith("422 ")] == []


def test_shipping_an_order(page, make, db, screenshot, browser_errors):
    """The wholesaler marks an order shipped; the retailer then sees who can still reverse it, at both widths."""
    account = make.account(credit_limit="5000.00")
    product = make.product(account.wholesaler, unit_price="42.50")
    wholesaler, retailer = (make.user(Role.WHOLESALER, wholesaler=account.wholesaler),
                            make.user(Role.RETAILER, retailer=account.retailer))
    for width in (1280, 390):
        placed = orders.place_order(acting_retailer(account.retailer_id), wholesaler_id=account.wholesaler_id,
                                    lines=[(product.id, 3)])
        page.set_viewport_size({"width": width, "height": 800})
        page.context.clear_cookies()
        sign_in(page, wholesaler)
        page.goto(f"/orders/{placed.order_id}")
        screenshot(page, f"shipping_01_confirmed_{width}")
        page.get_by_role("button", name="Mark shipped").click()
        expect(page.get_by_text("marked shipped")).to_be_visible()
        screenshot(page, f"shipping_02_shipped_wholesaler_{width}")
        page.context.clear_cookies()
        sign_in(page, retailer)
        page.goto(f"/orders/{placed.order_id}")
        expect(page.get_by_text("can reverse it now")).to_be_visible()
        screenshot(page, f"shipping_03_shipped_retailer_{width}")
        page.goto(f"/orders/{placed.order_id}/cancel")
        expect(page.get_by_text("has been shipped")).to_be_visible()
        screenshot(page, f"shipping_04_retailer_cancel_page_{width}")
    assert browser_errors == []


def test_a_credit_note_by_line(page, make, db, screenshot, browser_errors):
    """The wholesaler credits part of a shipped order back; the order then shows what was credited."""
    account = make.account(credit_limit="5000.00")
    tea, cups = (make.product(account.wholesaler, unit_price="12.40"),
                 make.product(account.wholesaler, unit_price="3.15"))
    wholesaler = make.user(Role.WHOLESALER, wholesaler=account.wholesaler)
    for width in (1280, 390):
        placed = orders.place_order(acting_retailer(account.retailer_id), wholesaler_id=account.wholesaler_id,
                                    lines=[(tea.id, 6), (cups.id, 24)])
        orders.ship_order(acting_wholesaler(account.wholesaler_id), placed.order_id)
        page.set_viewport_size({"width": width, "height": 800})
        page.context.clear_cookies()
        sign_in(page, wholesaler)
        page.goto(f"/orders/{placed.order_id}/credit-note")
        page.locator(f"#quantity_{cups.id}").fill("30")
        page.get_by_label("Reason").fill("Broken in transit")
        page.get_by_role("button", name="Issue credit note").click()
        expect(page.get_by_text("from 0 to 24")).to_be_visible()
        screenshot(page, f"credit_note_01_too_many_{width}")
        page.locator(f"#quantity_{cups.id}").fill("4")
        page.get_by_role("button", name="Issue credit note").click()
        expect(page.get_by_text("Credit note of 12.60 EUR issued")).to_be_visible()
        screenshot(page, f"credit_note_02_order_credited_{width}")
    assert [e for e in browser_errors if not e.startswith("422 ")] == []


def test_mail_in_the_outbox_and_the_mail_settings(page, make, db, screenshot, browser_errors, run_jobs):
    """With no mail server, the admin reads each mail in the Outbox; a retailer switches a kind of mail off."""
    account = make.account(retailer=make.retailer(name="Corner Grocery"),
                           wholesaler=make.wholesaler(name="Acme Foods Wholesale"), credit_limit="2000.00")
    product = make.product(account.wholesaler, unit_price="42.50")
    retailer = make.user(Role.RETAILER, retailer=account.retailer, email="owner@corner-grocery.example")
    make.user(Role.WHOLESALER, wholesaler=account.wholesaler, email="credit@acme-foods.example")
    admin = make.user(Role.ADMIN)
    placed = orders.place_order(acting_retailer(account.retailer_id), wholesaler_id=account.wholesaler_id,
                                lines=[(product.id, 40)])  # 85 %: both sides are told
    accounts.record_payment(SYSTEM, account.id, amount="1200.00", reference="Bank transfer 2026-0042",
                            allocations=[(placed.order_id, None)])
    accounts.block_account(SYSTEM, account.id, reason="Cheque returned unpaid")
    run_jobs()
    accounts.unblock_account(SYSTEM, account.id)  # written, not yet delivered: it shows as waiting
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 800})
        page.context.clear_cookies()
        sign_in(page, admin)
        page.goto("/admin/outbox")
        expect(page.get_by_text("Waiting").first).to_be_visible()
        screenshot(page, f"mail_01_outbox_{width}")
        page.get_by_role("link", name="Payment received by Acme Foods Wholesale: Bank transfer 2026-0042").click()
        expect(page.frame_locator("iframe.mail-preview").get_by_text("What it paid")).to_be_visible()
        screenshot(page, f"mail_02_payment_receipt_{width}")
        page.goto("/admin/outbox")
        page.get_by_role("link", name="80 % of the credit limit in use").first.click()
        screenshot(page, f"mail_03_credit_use_{width}")
        page.context.clear_cookies()
        sign_in(page, retailer)
        page.goto("/settings/notifications")  # the top bar's "Settings", behind the menu on a phone
        page.get_by_label("Payment receipts").set_checked(width == 390)
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Your mail settings are saved.")).to_be_visible()
        screenshot(page, f"mail_04_settings_saved_{width}")
    assert browser_errors == []


def test_an_invitation_accepted_and_a_password_reset_in_the_browser(page, make, db, screenshot, browser_errors,
                                                                     smtp, run_jobs):
    """A wholesaler invites a colleague, who follows the mailed link and chooses a password; later the colleague
    forgets it and resets it from the sign-in page. Both mails go through a real SMTP server."""
    import re

    wholesaler = make.wholesaler(name="Acme Foods Wholesale")
    inviter = make.user(Role.WHOLESALER, wholesaler=wholesaler, email="credit@acme-foods.example")
    for width in (1280, 390):
        colleague = f"sales-{width}@acme-foods.example"
        page.set_viewport_size({"width": width, "height": 800})
        page.context.clear_cookies()
        sign_in(page, inviter)
        page.goto("/team/")
        page.get_by_label("Their email").fill(colleague)
        page.get_by_role("button", name="Send invitation").click()
        expect(page.get_by_text(f"Invitation sent to {colleague}")).to_be_visible()
        screenshot(page, f"invite_01_team_{width}")
        run_jobs()
        [invitation] = smtp.inbox.to(colleague)
        link = re.search(r"http://creditline\.test(/invitation/\S+)",
                         invitation.get_body(("plain",)).get_content()).group(1)
        page.context.clear_cookies()
        page.goto(link)
        screenshot(page, f"invite_02_choose_password_{width}")
        page.get_by_label("New password").fill("plum kettle harbour seven")
        page.get_by_label("The same again").fill("plum kettle harbour seven")
        page.get_by_role("button", name="Set password and sign in").click()
        expect(page.get_by_text("Welcome to Creditline: your password is set")).to_be_visible()
        screenshot(page, f"invite_03_signed_in_{width}")
        page.goto(link)
        screenshot(page, f"invite_04_link_used_{width}")
        page.context.clear_cookies()
        page.goto("/login")
        page.get_by_role("link", name="Forgot your password?").click()
        page.get_by_label("Email").fill(colleague)
        page.get_by_role("button", name="Mail me a link").click()
        expect(page.get_by_role("heading", name="Check your mail")).to_be_visible()
        screenshot(page, f"reset_01_check_your_mail_{width}")
        run_jobs()
        [reset] = [m for m in smtp.inbox.to(colleague) if m["Subject"] == "Choose a new Creditline password"]
        page.goto(re.search(r"http://creditline\.test(/password-reset/\S+)",
                            reset.get_body(("plain",)).get_content()).group(1))
        page.get_by_label("New password").fill("password1234")
        page.get_by_label("The same again").fill("password1234")
        page.get_by_role("button", name="Save password and sign in").click()
        expect(page.get_by_text("common passwords")).to_be_visible()
        screenshot(page, f"reset_02_too_common_{width}")
        page.get_by_label("New password").fill("quiet lantern meadow four")
        page.get_by_label("The same again").fill("quiet lantern meadow four")
        page.get_by_role("button", name="Save password and sign in").click()
        expect(page.get_by_text("Your password is changed")).to_be_visible()
    assert [e for e in browser_errors if not e.startswith(("422 ", "404 "))] == []


def test_the_reminder_schedule_and_the_reminders_sent(page, make, db, screenshot, browser_errors):
    """A wholesaler's dunning: the schedule to edit, an account's reminders sent, and one reminder as mailed."""
    from datetime import UTC, datetime, timedelta

    import time_machine

    from app.services import directory, dunning

    wholesaler = directory.create_wholesaler(SYSTEM, name="Acme Foods Wholesale", time_zone="Europe/Berlin")
    account = make.account(retailer=make.retailer(name="Corner Grocery"), wholesaler=wholesaler,
                           credit_limit="5000.00", overdue_policy=OverduePolicy.OFF)  # orders go on while overdue
    rice, oil = make.product(wholesaler, unit_price="12.40"), make.product(wholesaler, unit_price="8.95")
    make.user(Role.RETAILER, retailer=account.retailer, email="owner@corner-grocery.example")
    desk, admin = make.user(Role.WHOLESALER, wholesaler=wholesaler), make.user(Role.ADMIN)
    placed = datetime.now(UTC) - timedelta(days=40)
    for days, lines in ((0, [(rice.id, 20)]), (1, [(oil.id, 12), (rice.id, 5)]), (33, [(oil.id, 4)])):
        with time_machine.travel(placed + timedelta(days=days), tick=False):
            orders.place_order(acting_retailer(account.retailer_id), wholesaler_id=wholesaler.id, lines=lines)
    for back in (9, 8, 3, 0):  # the job's runs over the last days
        with time_machine.travel(datetime.now(UTC) - timedelta(days=back), tick=False):
            dunning.send_reminders()
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 800})
        page.context.clear_cookies()
        sign_in(page, desk)
        page.goto("/wholesaler/reminders")
        screenshot(page, f"dunning_01_schedule_{width}")
        first = page.locator("li.level").first
        first.get_by_label("Days from the due date").fill("7")
        first.get_by_role("button", name="Save").click()
        expect(page.get_by_text("Another level already has this many days.")).to_be_visible()
        screenshot(page, f"dunning_02_level_refused_{width}")
        page.goto(f"/wholesaler/accounts/{account.id}#reminders")
        expect(page.get_by_role("heading", name="Reminders sent")).to_be_visible()
        page.locator("#reminders").scroll_into_view_if_needed()
        screenshot(page, f"dunning_03_account_reminders_sent_{width}")
        page.context.clear_cookies()
        sign_in(page, admin)
        page.goto("/admin/outbox")
        page.get_by_role("link", name="Payment reminder from Acme Foods Wholesale").first.click()
        expect(page.frame_locator("iframe.mail-preview").get_by_text("Still to pay")).to_be_visible()
        screenshot(page, f"dunning_04_reminder_mail_{width}")
    assert [e for e in browser_errors if not e.startswith("422 ")] == []


def test_webhook_endpoints_and_their_delivery_log(page, make, db, screenshot, browser_errors, run_jobs):
    """A wholesaler adds an endpoint, sees its secret once, and reads the delivery log of a real receiver that
    answered 200, then 503."""
    from tests.support.receiver import Receiver

    receiver = Receiver()
    try:
        account = make.account(retailer=make.retailer(name="Corner Grocery"),
                               wholesaler=make.wholesaler(name="Acme Foods Wholesale"), credit_limit="5000.00")
        product = make.product(account.wholesaler, unit_price="42.50")
        desk = make.user(Role.WHOLESALER, wholesaler=account.wholesaler)
        for width in (1280, 390):
            page.set_viewport_size({"width": width, "height": 800})
            page.context.clear_cookies()
            sign_in(page, desk)
            page.goto("/integrations/")
            screenshot(page, f"webhooks_01_list_{width}")
            page.get_by_label("URL").fill(f"{receiver.url}?from={width}")
            for event in ("order.confirmed", "payment.recorded", "account.blocked"):
                page.get_by_label(event).check()
            page.get_by_role("button", name="Add endpoint").click()
            expect(page.get_by_role("heading", name="Signing secret")).to_be_visible()
            screenshot(page, f"webhooks_02_secret_once_{width}")
            receiver.status = 200
            placed = orders.place_order(acting_retailer(account.retailer_id), wholesaler_id=account.wholesaler_id,
                                        lines=[(product.id, 2)])
            run_jobs()
            receiver.status = 503
            accounts.record_payment(SYSTEM, account.id, amount="85.00", reference="Transfer 2026-0042",
                                    allocations=[(placed.order_id, None)])
            run_jobs()
            page.reload()
            expect(page.get_by_role("heading", name="Signing secret")).to_have_count(0)
            screenshot(page, f"webhooks_03_delivery_log_{width}")
    finally:
        receiver.stop()
    assert browser_errors == []


def test_a_statement_of_account_for_last_month(page, make, db, screenshot, browser_errors):
    """The demo book's statement of last month as the wholesaler and the retailer see it, at both widths."""
    demo.load()
    harbour = db.session.scalar(select(CreditAccount).join(Retailer).join(
        Wholesaler, Wholesaler.id == CreditAccount.wholesaler_id).where(
        Retailer.name == "Corner Grocery", Wholesaler.name == "Acme Foods Wholesale"))
    people = [make.user(Role.WHOLESALER, wholesaler=harbour.wholesaler), make.user(Role.RETAILER,
                                                                                     retailer=harbour.retailer)]
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 800})
        for user in people:
            page.context.clear_cookies()
            sign_in(page, user)
            page.goto(f"/statements/{harbour.id}")
            page.get_by_role("link", name="Last month").click()
            expect(page.get_by_role("heading", name="Statement of account")).to_be_visible()
            expect(page.get_by_text("Closing balance on")).to_be_visible()
            screenshot(page, f"statement_01_last_month_{user.role.value}_{width}")
            with page.expect_download() as download:
                page.get_by_role("link", name="Download PDF").click()
            assert download.value.suggested_filename.startswith(f"statement-{harbour.id}-")
            if user.role == Role.WHOLESALER:  # the demo's Acme mails them
                page.goto("/wholesaler/reminders")
                expect(page.get_by_role("button", name="Stop mailing statements")).to_be_visible()
                screenshot(page, f"statement_03_mailed_monthly_{width}")
    page.goto(f"/statements/{harbour.id}?from=2026-13-01")
    screenshot(page, "statement_02_bad_period_390")
    assert [e for e in browser_errors if not e.startswith("400 ")] == []


def test_holding_credit_for_a_cart_and_ordering_part_of_it(page, make, db, screenshot, browser_errors):
    """A retailer holds a cart's credit and prices from the order page, sees it among its holds and orders part of
    it; its wholesaler sees what is held; at both widths."""
    wholesaler = make.wholesaler(name="Acme Foods Wholesale")
    account = make.account(retailer=make.retailer(name="Corner Grocery"), wholesaler=wholesaler,
                           credit_limit="2500.00")
    for sku, name, price in (("RICE-5", "Basmati rice 5 kg", "12.40"), ("OIL-1", "Olive oil 1 l", "8.95"),
                             ("TOM-24", "Chopped tomatoes, 24 tins", "18.60")):
        catalogue.add_product(SYSTEM, wholesaler_id=wholesaler.id, sku=sku, name=name, unit_price=price)
    buyer, desk = make.user(Role.RETAILER, retailer=account.retailer), make.user(Role.WHOLESALER, wholesaler=wholesaler)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 800})
        page.context.clear_cookies()
        sign_in(page, buyer)
        page.goto(f"/retailer/accounts/{account.id}/order")
        page.get_by_label("Basmati rice 5 kg").fill("20")
        page.get_by_label("Chopped tomatoes, 24 tins").fill("12")
        page.get_by_label("Not ready to order? Hold the credit and these prices").select_option("7 days")
        screenshot(page, f"holds_01_order_page_{width}")
        page.get_by_role("button", name="Hold credit").click()
        expect(page.get_by_text("of credit and today's prices are held until")).to_be_visible()
        screenshot(page, f"holds_02_hold_{width}")
        page.get_by_label("Chopped tomatoes, 24 tins").fill("5")
        page.get_by_role("button", name="Order at the held prices").click()
        expect(page.get_by_text("placed from hold")).to_be_visible()
        page.goto(f"/retailer/accounts/{account.id}/order")
        page.get_by_label("Olive oil 1 l").fill("30")
        page.get_by_role("button", name="Hold credit").click()
        page.goto("/holds/")
        screenshot(page, f"holds_03_list_retailer_{width}")
        page.context.clear_cookies()
        sign_in(page, desk)
        page.goto(f"/wholesaler/accounts/{account.id}")
        expect(page.locator(".stat .held-note")).to_contain_text("EUR held")
        screenshot(page, f"holds_04_account_wholesaler_{width}")
        page.goto("/holds/")
        screenshot(page, f"holds_05_list_wholesaler_{width}")
    assert browser_errors == []


def test_a_temporary_limit_increase(page, make, db, screenshot, browser_errors):
    """A wholesaler grants a temporary increase from the account page and ends another early; the retailer sees the
    limit with its increase and when it ends; at both widths, each on an account of its own."""
    wholesaler = make.wholesaler(name="Acme Foods Wholesale")
    desk = make.user(Role.WHOLESALER, wholesaler=wholesaler)
    last_day = (clock.business_date(wholesaler.time_zone) + timedelta(days=24)).isoformat()
    for width in (1280, 390):
        account = make.account(retailer=make.retailer(name=f"Corner Grocery {width}"), wholesaler=wholesaler,
                               credit_limit="2500.00", balance="1840.00")
        buyer = make.user(Role.RETAILER, retailer=account.retailer)
        page.set_viewport_size({"width": width, "height": 800})
        page.context.clear_cookies()
        sign_in(page, desk)
        page.goto(f"/wholesaler/accounts/{account.id}")
        card = page.locator("section.card", has=page.get_by_role("heading", name="Temporary increase"))
        for amount, reason in (("1500.00", "Christmas stock"), ("300.00", "Trade fair")):
            card.get_by_label("Increase by").fill(amount)
            card.get_by_label("Last day").fill(last_day)
            card.get_by_label("Reason").fill(reason)
            card.get_by_role("button", name="Grant increase").click()
            expect(page.get_by_text("Limit raised by")).to_be_visible()
        card.locator(".increase-live", has_text="Trade fair").get_by_role("button", name="End now").click()
        expect(page.get_by_text("Increase ended")).to_be_visible()
        expect(page.locator(".stat .held-note")).to_have_text(f"temporarily +1,500.00 EUR until {last_day}")
        screenshot(page, f"increases_01_account_{width}")
        page.goto("/wholesaler/")
        screenshot(page, f"increases_02_dashboard_{width}")
        page.context.clear_cookies()
        sign_in(page, buyer)
        page.goto("/retailer/")
        expect(page.get_by_text(f"temporarily +1,500.00 EUR until {last_day}")).to_be_visible()
        screenshot(page, f"increases_03_retailer_{width}")
    assert browser_errors == []


def test_asking_for_more_credit_and_deciding_it(page, make, db, screenshot, browser_errors):
    """A retailer asks for a higher limit from its credit lines; the wholesaler sees it on the account page and its
    list, and approves it for a while; the retailer reads the outcome; at both widths, each on a line of its own."""
    wholesaler = make.wholesaler(name="Acme Foods Wholesale")
    desk = make.user(Role.WHOLESALER, wholesaler=wholesaler)
    last_day = (clock.business_date(wholesaler.time_zone) + timedelta(days=40)).isoformat()
    for width in (1280, 390):
        account = make.account(retailer=make.retailer(name=f"Harbour Deli {width}"), wholesaler=wholesaler,
                               credit_limit="5000.00", balance="4200.00")
        buyer = make.user(Role.RETAILER, retailer=account.retailer)
        page.set_viewport_size({"width": width, "height": 800})
        page.context.clear_cookies()
        sign_in(page, buyer)
        page.goto("/retailer/")
        page.get_by_role("link", name="More credit").click()
        page.get_by_label("Limit you would like").fill("8000.00")
        page.get_by_label("Only until (optional)").fill(last_day)
        page.get_by_label("Why").fill("Winter fair: twice the stock for six weeks")
        screenshot(page, f"limit_requests_01_ask_{width}")
        page.get_by_role("button", name="Send the request").click()
        expect(page.get_by_text("Waiting for a decision")).to_be_visible()
        screenshot(page, f"limit_requests_02_waiting_{width}")
        page.context.clear_cookies()
        sign_in(page, desk)
        page.goto(f"/wholesaler/accounts/{account.id}")
        expect(page.locator(".request-note")).to_contain_text("asks for a limit of 8,000.00 EUR")
        page.goto("/limit-requests/?status=OPEN")
        screenshot(page, f"limit_requests_03_list_{width}")
        page.get_by_role("link", name="Decide").first.click()
        screenshot(page, f"limit_requests_04_decide_{width}")
        page.get_by_label("Approve a limit of").fill("7000.00")
        page.get_by_role("button", name="Approve").click()
        expect(page.get_by_text("Approved: ")).to_be_visible()
        page.context.clear_cookies()
        sign_in(page, buyer)
        page.goto(f"/limit-requests/ask/{account.id}")
        expect(page.get_by_text(f"temporarily +2,000.00 EUR until {last_day}").first).to_be_visible()
        screenshot(page, f"limit_requests_05_outcome_{width}")
    assert browser_errors == []


def test_a_buyers_order_above_its_limit_waits_for_an_approver(page, make, db, screenshot, browser_errors):
    """The owner gives a buyer a limit on the team page; the buyer's bigger order waits; the owner approves it from
    its page; at both widths, each with a shop of its own."""
    wholesaler = make.wholesaler(name="Acme Foods Wholesale")
    for sku, name, price in (("RICE-5", "Basmati rice 5 kg", "12.40"), ("OIL-1", "Olive oil 1 l", "8.95")):
        catalogue.add_product(SYSTEM, wholesaler_id=wholesaler.id, sku=sku, name=name, unit_price=price)
    for width in (1280, 390):
        account = make.account(retailer=make.retailer(name=f"Corner Grocery {width}"), wholesaler=wholesaler,
                               credit_limit="5000.00")
        owner = make.user(Role.RETAILER, retailer=account.retailer, email=f"owner-{width}@corner.example")
        buyer = make.user(Role.RETAILER, retailer=account.retailer, email=f"buyer-{width}@corner.example")
        page.set_viewport_size({"width": width, "height": 800})
        page.context.clear_cookies()
        sign_in(page, owner)
        page.goto("/team/")
        page.get_by_label(f"Order limit of {buyer.email}").fill("200.00")
        page.get_by_label(f"Order limit of {buyer.email}").press("Enter")
        expect(page.get_by_text("may order up to 200.00 per order")).to_be_visible()
        screenshot(page, f"approvals_01_team_{width}")
        page.context.clear_cookies()
        sign_in(page, buyer)
        page.goto(f"/retailer/accounts/{account.id}/order")
        page.get_by_label("Basmati rice 5 kg").fill("20")
        page.get_by_role("button", name="Place order").click()
        expect(page.get_by_text("so it waits for an approver")).to_be_visible()
        screenshot(page, f"approvals_02_waiting_{width}")
        page.context.clear_cookies()
        sign_in(page, owner)
        page.goto("/retailer/")
        page.get_by_role("link", name="waits for your approval").click()
        screenshot(page, f"approvals_03_list_{width}")
        page.get_by_role("link", name="#").first.click()
        screenshot(page, f"approvals_04_decide_{width}")
        page.get_by_role("button", name="Approve and order").click()
        expect(page.get_by_text("Approved: order #")).to_be_visible()
    assert browser_errors == []
