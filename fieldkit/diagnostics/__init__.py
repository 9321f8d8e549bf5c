"""fieldkit.diagnostics: the fault catalog and the rules that map device state to faults.

- :mod:`fieldkit.diagnostics.models` — the typed shape of a fault table.
- :mod:`fieldkit.diagnostics.catalog` — ``load_catalog()`` / ``default_catalog()``: every
  table, layered with ``FIELDKIT_DATA``, with code lookups and symptom search.
- :mod:`fieldkit.diagnostics.normalize` — ``normalize_code()``: ``ERR—1`` = ``err1``.
- :mod:`fieldkit.diagnostics.search` — the ranked zh / en / pinyin search index.
- :mod:`fieldkit.diagnostics.tables` — reading table files entry by entry, and layering.

No module here imports Textual or FastAPI.
"""
