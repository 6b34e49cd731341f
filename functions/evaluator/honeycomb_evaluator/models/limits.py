"""Honeycomb's query limits, apart from the models so that code using them imports no pydantic."""

MAX_WINDOW_SECONDS = 7 * 24 * 3600
DEFAULT_TIME_RANGE = 7200  # Honeycomb's own default
MAX_QUERY_LIMIT = 1000  # "the normal allowed maximum value when creating a query"
