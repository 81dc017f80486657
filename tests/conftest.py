"""Project-wide test settings: property tests are reproducible on any machine.

Hypothesis runs derandomized (the same examples everywhere, every time), keeps no example
database (``.hypothesis/`` can neither make a run pass nor fail), and has no per-example
deadline (a slow or loaded machine is not a failure).
"""

from hypothesis import settings

settings.register_profile("nphelpers", database=None, derandomize=True, deadline=None)
settings.load_profile("nphelpers")
