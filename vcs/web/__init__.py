"""The web app: public pages, feeds, the staff area and the JSON API."""

from starlette.convertors import IntegerConvertor, register_url_convertor


class IdConvertor(IntegerConvertor):
    """`{name:int}` in our routes is a row id. Ids are INTEGER columns, 32-bit on PostgreSQL
    (up to 2147483647): nine digits stay below that and above any id this network will reach,
    so a longer number matches no route (404) instead of reaching the database as an error."""

    regex = "[0-9]{1,9}"


# Here, before any route module builds its routes: Starlette reads the convertor when a Route
# is made.
register_url_convertor("int", IdConvertor())
