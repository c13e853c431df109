"""In-memory reference implementations of every TTA backend service, for the demo, tests and benchmarks.

Start them with :mod:`services.server` (``start_service``, ``start_all``) or ``python -m services``; the
catalogue of what exists is :data:`services.catalog.REFERENCE_SERVICES`. Nothing in ``gateway/`` or
``transcoder/`` imports this package.
"""
