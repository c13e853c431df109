"""``python -m bench``: run every benchmark in turn."""

from bench import passthrough, rest, telemetry

status = passthrough.main([])
print()
status = status or telemetry.main([])
print()
raise SystemExit(status or rest.main([]))
