"""teller_guard (柜面转账风险筛查): counter fraud screening for bank tellers.

Importing the package stays free of Flask, so the pure domain modules (risk, printing, pii)
can be used from scripts and benchmarks without the web stack.
"""

__version__ = "0.1.0"


def create_app(*args, **kwargs):
    from .app import create_app as _create_app

    return _create_app(*args, **kwargs)
