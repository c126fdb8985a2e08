"""`teller-guard branch add|list`: head office's 网点管理 from a script (registered in
teller_guard/cli.py). As with `user add`, the ledger event has no user as the actor: whoever
runs the command has the instance folder."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal, InvalidOperation

import click

from . import settings
from .cli import fail, instance_option, prepare_database
from .regions import PROVINCES
from .storage import branches as branch_store
from .web_context import app_db

DEFAULTS = settings.BranchSettings()


@click.group()
def branch():
    """The bank's branches: add, list."""


def _amount(text: str) -> Decimal:
    """The large-amount line as 网点设置 accepts it (1 to 100 million yuan, 2 places)."""
    try:
        value = Decimal(text.replace(",", "")).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        fail(f"大额标准无效: {text}（应为 1 至 1 亿元之间的金额）")
    if not Decimal(1) <= value <= Decimal(100_000_000):
        fail(f"大额标准应在 1 至 1 亿元之间: {text}")
    return value


@branch.command("add")
@instance_option
@click.argument("code")
@click.option("--name", "branch_name", required=True, help="Branch name, e.g. 桥东支行.")
@click.option("--province", required=True, help="Province as GB/T 2260 names it, e.g. 河北省.")
@click.option("--city", default="", help="City, e.g. 邢台市.")
@click.option("--bank-name", default=None, help="Default: branch 1's bank name.")
@click.option("--large-amount", default=str(DEFAULTS.large_amount), show_default=True,
              help="Large-amount line in yuan.")
@click.option("--elderly-age", type=click.IntRange(40, 100), default=DEFAULTS.elderly_age,
              show_default=True)
@click.option("--slip-paper", type=click.Choice(["a5", "a4", "roll80"]),
              default=DEFAULTS.slip_paper, show_default=True)
def add(app, code, branch_name, province, city, bank_name, large_amount, elderly_age,
        slip_paper):
    """Add branch CODE with its settings (网点设置), as 网点管理 does."""
    if province not in PROVINCES:
        fail(f"省份无效: {province}（应为 {PROVINCES[0]}、{PROVINCES[1]} 等 34 个省级行政区全称之一）")
    if not branch_name.strip() or len(branch_name.strip()) > 64:
        fail("网点名称不能为空，最多 64 个字")
    values = replace(DEFAULTS, branch_name=branch_name.strip(), province=province,
                     city=city.strip(), large_amount=_amount(large_amount),
                     elderly_age=elderly_age, slip_paper=slip_paper)
    prepare_database(app)
    with app_db(app) as (database, key):
        values = replace(values, bank_name=(bank_name or settings.load(database).bank_name).strip())
        try:
            branch_id = settings.create_branch(database, key, code, values)
        except settings.BranchError as error:
            fail(str(error))
    click.echo(f"已新增网点 {code.strip()} {values.branch_name}（#{branch_id}，"
               f"{values.province}{values.city}）")


@branch.command("list")
@instance_option
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of the table.")
def list_branches(app, as_json):
    """Every branch: code, name, region, users, screenings."""
    prepare_database(app, err=True)
    with app_db(app) as (database, _):
        rows = branch_store.with_counts(database)
    listed = [{"code": row["code"], "name": row["name"], "bank_name": row["bank_name"],
               "province": row["province"], "city": row["city"], "users": row["users"],
               "screenings": row["screenings"], "large_amount": row["large_amount"]}
              for row in rows]
    if as_json:
        click.echo(json.dumps(listed, ensure_ascii=False, indent=2))
        return
    for row in listed:
        click.echo("\t".join([row["code"], row["name"], f"{row['province']}{row['city']}",
                              f"用户 {row['users']}", f"问询 {row['screenings']}"]))
