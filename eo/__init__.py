"""Earth-observation rules every layer shares, with no Django and no I/O of their own.

The ground floor of the house: mission and instrument names (``missions``,
``identify``) and the attribute text blocks they are read from (``attributes``); how
deeply untrusted JSON and WKT nest (``nesting``); what users type, read by one rule for
every entry point: boxes (``boxes``), time instants and intervals (``times``), areas and
the antimeridian cut (``geometry``), ``--bbox -10,...`` on command lines (``argv``),
with ``errors.InputError`` naming the parameter; and which format a file is from its
magic bytes (``formats``). The catalog, ingest, subset, the API and the MPI ranks all
call these; nothing here imports any of them.
"""
