"""The compare stage: counts of two models (from stores or files) -> `Comparison` -> compare.json.

The package is callable: ``tether.compare(base=..., rl=...)`` is `tether.compare.run.compare`.
"""

import sys
import types

from tether.compare.counts import counts_of_rows, load_counts
from tether.compare.pairing import align
from tether.compare.result import CompareOptions, Comparison, Rate, save_comparison
from tether.compare.run import compare, compare_counts


class _Callable(types.ModuleType):
    """`tether.compare` is both the stage's package and the function users call."""

    def __call__(self, *args, **kwargs) -> Comparison:
        return compare(*args, **kwargs)


sys.modules[__name__].__class__ = _Callable

__all__ = ["CompareOptions", "Comparison", "Rate", "align", "compare", "compare_counts", "counts_of_rows",
           "load_counts", "save_comparison"]
