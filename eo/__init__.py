"""Earth-observation rules every layer shares, with no Django and no I/O of their own.

The ground floor of the house: mission and instrument names (``missions``,
``identify``) and the attribute text blocks they are read from (``attributes``); how
deeply untrusted JSON and WKT nest (``nesting``). The
catalog, ingest, subset, the API and the MPI ranks all call these; nothing here imports
any of them.
"""
