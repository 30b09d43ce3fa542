"""The reference FretCoach Hub ingest server: the contract in ``sync/hub-api.md``, served.

    python -m sync.hub --db hub.db --token TOKEN=USER [--enable-fault-injection]

``app`` builds the server from ``auth``, ``storage`` (tables in ``models``), ``routes``,
``limits``, ``faults``, ``answers`` and ``openapi``; ``options`` declares the flags and
``cli`` runs it.
"""
