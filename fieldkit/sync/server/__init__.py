"""The back-office sync server: FastAPI app (``app``), its tables and migrations (``tables``,
``db``), token auth (``auth``) and the back-office operations (``service``).

Only this package imports FastAPI; the laptop's sync client never imports it.
"""
