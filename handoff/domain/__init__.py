"""Rules of the service desk, free of HTTP and socket.io.

Every function takes a :class:`handoff.db.UnitOfWork`, raises the typed
errors of :mod:`handoff.domain.errors`, and queues real-time notices that
leave only after commit.
"""
