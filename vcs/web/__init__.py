"""The web app: public pages, feeds, the staff area and the JSON API."""
