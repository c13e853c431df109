"""``python -m bench``: run every benchmark in turn."""

from bench import passthrough, telemetry

status = passthrough.main([])
print()
raise SystemExit(status or telemetry.main([]))
