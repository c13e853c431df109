"""``python -m bench``: run every benchmark in turn."""

from bench import passthrough

raise SystemExit(passthrough.main())
