"""Identity: access tokens verified against the configured keys (issue 9, RFC 8725).

- ``keys``: a JWKS parsed into an immutable ``KeySet``, one pinned algorithm per ``kid``. Pure.
- ``tokens``: ``verify`` — a token in, ``Claims`` or a ``TokenProblem`` out; the clock passed in. Pure.
- ``cache``: ``VerifiedTokens``, verified tokens remembered by digest until they expire. Pure.
- ``source``: ``KeySource``, the JWKS file or https URL and its refreshes (the I/O).
- ``mint``: signing tokens and making key pairs, for development and tests.

Not wired into the chain yet: an identity step will read the ``Authorization`` header
(``parse_authorization``), verify through ``VerifiedTokens`` with ``KeySource.keys``, ask
``KeySource.refresh_for_kid`` on ``TOKEN_UNKNOWN_KID``, and raise ``TokenProblem.refusal()``.
"""
