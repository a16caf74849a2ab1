"""The <id:…> URL converter: ids within the Integer column's range, everything else a 404 for every method."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.exceptions import NotFound

from app.routing import MAX_ID, decimal_range_pattern


@given(largest=st.integers(1, 10**12), number=st.integers(0, 10**13))
def test_the_pattern_matches_exactly_the_numbers_from_1_to_the_largest(largest, number):
    pattern = re.compile(decimal_range_pattern(largest))
    for candidate in (number, largest - 1, largest, largest + 1, number % (largest + 2)):
        assert bool(pattern.fullmatch(str(candidate))) == (1 <= candidate <= largest), (largest, candidate)
    assert not pattern.fullmatch(f"0{largest}")  # one spelling per id


def test_ids_are_written_in_the_digits_0_to_9_only(app):
    """int() reads "1١" (an Arabic-Indic one) and full-width "１" as numbers; no URL may spell an id with them."""
    urls = app.url_map.bind("localhost")
    assert urls.match("/orders/11") == ("orders.detail", {"order_id": 11})
    for spelling in ("1\u0661", "\u0661", "\uff11", "1\uff11", "\u0967", "1\u00b2"):
        assert not re.fullmatch(decimal_range_pattern(MAX_ID), spelling), spelling
        for path in (f"/orders/{spelling}", f"/api/v1/orders/{spelling}"):
            with pytest.raises(NotFound):
                urls.match(path)


def test_ids_at_and_past_the_columns_range_are_not_found(client, auth, make):
    """In range but absent: the view's 404. Zero, past the range, or zero-padded: no route at all, also 404."""
    from app.models import Role

    auth.login(make.user(Role.RETAILER, retailer=make.retailer()))
    for value in (MAX_ID, MAX_ID + 1, 0, "007", 10**30):
        assert client.get(f"/orders/{value}").status_code == 404, value
