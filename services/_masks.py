"""``google.protobuf.FieldMask`` handling for the ``Update*`` methods (AIP-134).

An empty mask means "every field that may be changed"; a path that is unknown or output-only is
``INVALID_ARGUMENT`` on ``update_mask`` naming the path.

>>> from google.protobuf import field_mask_pb2
>>> mask_paths(field_mask_pb2.FieldMask(paths=["name"]), ("name", "pronouns"))
('name',)
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf import field_mask_pb2

from services._errors import invalid_argument

__all__ = ["mask_paths"]


def mask_paths(mask: field_mask_pb2.FieldMask, allowed: Sequence[str]) -> tuple[str, ...]:
    """The paths to apply: the mask's (each checked against ``allowed``) or all of ``allowed``."""
    if not mask.paths:
        return tuple(allowed)
    for path in mask.paths:
        if path not in allowed:
            raise invalid_argument(
                "update_mask", f'path "{path}" is unknown or cannot be changed; allowed: {", ".join(allowed)}'
            )
    return tuple(mask.paths)
