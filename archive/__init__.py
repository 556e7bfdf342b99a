"""Object-store layer of swathstore: local and S3 stores, codecs, keys, probe and replication.

Plain Python: nothing here imports Django. Start with ``archive.config.open_store`` or
``archive.config.get_store``; see ``archive.stores.Store`` for the interface.
"""
