"""Head office (总行反诈): escalated cases from every branch, their dispositions, and bank-wide
statistics with drill-down bank -> branch -> teller. The SQL is in storage/head_office.py.

The blueprint is loaded lazily so the pure modules (stats, escalation) import without Flask.
"""


def __getattr__(name):
    if name == "bp":
        from .views import bp

        return bp
    raise AttributeError(name)


__all__ = ["bp"]
