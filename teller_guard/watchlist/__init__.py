"""Payee watchlist (涉诈账户名单) and cross-session signals.

`signals` and `csv_import` are free of Flask so the screening service, the CLI and benchmarks
can use them; `views` is the web area (blueprint `watchlist`).
"""
