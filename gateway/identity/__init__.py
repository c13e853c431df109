"""Identity: access tokens verified against the configured keys (issue 9, RFC 8725).

- ``keys``: a JWKS parsed into an immutable ``KeySet``, one pinned algorithm per ``kid``. Pure.
- ``tokens``: ``verify_signed`` (the checks every issuer shares) and ``read_claims`` (TTA's claims);
  ``verify`` is the two together. A token in, ``Claims`` or a ``TokenProblem`` out; the clock passed in. Pure.
- ``issuers``: the trusted issuers: the token's unverified ``iss`` chooses one (``choose``), whose keys
  and rules verify it; an external OIDC issuer's claims become TTA's through its ``ClaimsMapping``
  (decision 0011). Pure.
- ``cache``: ``VerifiedTokens``, verified (and mapped) tokens remembered by digest until they expire,
  each entry bound to the key set of the issuer that verified it. Pure.
- ``source``: ``KeySource``, the JWKS file or https URL and its refreshes (the I/O), one per issuer.
- ``roles``: TTA's roles and their hierarchy. Pure.
- ``mint``: signing tokens and making key pairs, for development and tests.

The identity step (``gateway.policies.identity``) reads the ``Authorization`` header
(``parse_authorization``), asks the cache, and on a miss chooses the issuer, verifies with that
issuer's ``KeySource.keys``, asks that source's ``refresh_for_kid`` on ``TOKEN_UNKNOWN_KID``, and raises
``TokenProblem.refusal()``.
"""
