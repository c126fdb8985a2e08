"""Serving the printouts: the warning slip and the police alert PDFs, and the outbox that
delivers police alerts to the configured endpoint.

- ``content``: pure functions turning a stored session into ``SlipContent`` / ``AlertContent``
  and the alert's JSON payload (no Flask, no SQL);
- ``outbox``: outbox writes, the sender (``deliver_due``) and its background thread;
- ``views``: the ``printing`` blueprint (imports Flask; loaded by ``create_app``).
"""
