"""`teller-guard send-alerts` (registered at the end of teller_guard/cli.py)."""

from __future__ import annotations

import sys

import click

from ..cli import fail, instance_option, prepare_database
from ..web_context import app_db
from . import outbox


@click.command("send-alerts")
@instance_option
def send_alerts(app):
    """Send the due police alerts in the outbox once (for cron when the server does not).

    Uses ALERT_ENDPOINT, ALERT_TIMEOUT_SECONDS and ALERT_ALLOW_HTTP from the instance config;
    exits with status 1 when an attempt failed (the row stays queued and is retried later).
    """
    prepare_database(app)
    with app_db(app) as (database, key):
        try:
            sent, failed = outbox.deliver_with_config(database, key, app.config)
        except outbox.EndpointError as error:
            fail(str(error))
        left = outbox.counts(database)
    click.echo(f"已发送 {sent} 条，本次失败 {failed} 条；"
               f"待发送 {left['pending']} 条，发送失败 {left['failed']} 条。")
    if failed:
        sys.exit(1)
