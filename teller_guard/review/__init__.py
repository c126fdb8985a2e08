"""Branch security's review area: queue, dispositions, statistics, exports, verify, retention.

The blueprint is loaded lazily so the pure modules (state, filters, stats, svg, export)
can be imported without Flask. The SQL of the area is in storage/review.py.
"""


def __getattr__(name):
    if name == "bp":
        from .views import bp

        return bp
    raise AttributeError(name)


__all__ = ["bp"]
