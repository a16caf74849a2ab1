"""URL converters shared by every blueprint."""

from werkzeug.routing import IntegerConverter

#: Largest id an Integer primary key holds.
MAX_ID = 2**31 - 1


def decimal_range_pattern(largest: int) -> str:
    """A regular expression for the whole numbers 1 to ``largest``, written without leading zeros in the digits 0
    to 9 (``\\d`` would also match other scripts' digits, which int() reads: /orders/1١ was order 11)."""
    digits = str(largest)
    alternatives = [rf"[1-9][0-9]{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []  # fewer digits
    for i, digit in enumerate(digits):  # as many digits: the same prefix, then a smaller digit here
        lowest = 1 if i == 0 else 0
        if int(digit) > lowest:
            alternatives.append(rf"{digits[:i]}[{lowest}-{int(digit) - 1}][0-9]{{{len(digits) - i - 1}}}")
    alternatives.append(digits)
    return "(?:" + "|".join(alternatives) + ")"


class IdConverter(IntegerConverter):
    """``<id:name>``: an id within the Integer column's range; anything else is a 404, not a database
    error (the driver would cast it to INTEGER and fail). The range is in the pattern, not only in
    ``to_python``: Werkzeug matches paths before converting, so with a bare ``\\d+`` an out-of-range id
    sent with PATCH matched the path of the GET rule beside it and was answered 405."""

    regex = decimal_range_pattern(MAX_ID)

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=MAX_ID)
