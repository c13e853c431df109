"""``python -m bench`` (``make bench``): the open-loop CPU-per-call bench, both doors (bench/cost.py)."""

from bench.cost import main

raise SystemExit(main())
