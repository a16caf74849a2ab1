"""URL converters shared by every blueprint."""

from werkzeug.routing import IntegerConverter

#: Largest id an Integer primary key holds.
MAX_ID = 2**31 - 1


class IdConverter(IntegerConverter):
    """``<id:name>``: an id within the Integer column's range; a bigger one is a 404, not a
    database error (the driver would cast it to INTEGER and fail)."""

    def __init__(self, url_map):
        super().__init__(url_map, min=1, max=MAX_ID)
