"""Object-store layer of swathstore: local and S3 stores, codecs, keys, probe and replication.

Plain Python: nothing here imports Django. Stores are described by the environment
(``archive.envconfig.read_store_config``) and opened through the registry
(``archive.config.get_store``, ``store_for_url``); see ``archive.stores.Store`` for the
interface.
"""
