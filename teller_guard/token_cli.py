"""`teller-guard token create|list|revoke`: the admin page's 接口令牌 from a script, so the
core-banking integration can be set up without a browser (registered in teller_guard/cli.py).

`create` prints the token alone on standard output (`TOKEN=$(teller-guard token create …)`);
every message goes to standard error. The ledger events are those the admin page appends,
with no user as the actor (as `teller-guard user add` does): whoever runs the command has the
instance folder, which no login stands in front of.
"""

from __future__ import annotations

import json

import click

from . import api_scope, api_tokens, labels, settings
from .cli import fail, instance_option, prepare_database
from .web_context import app_db


@click.group()
def token():
    """JSON API tokens: create, list, revoke."""


def _checked_tellers(database, wanted: tuple[str, ...], branch_id: int) -> tuple[str, ...] | None:
    """The --teller names, each an active teller or supervisor of the token's branch (the
    admin page offers only those); None when none is given: the token files for every teller
    and supervisor of the branch."""
    if not wanted:
        return None
    allowed = {user.username for user in api_tokens.filing_accounts(database, (branch_id,))}
    unknown = [name for name in dict.fromkeys(wanted) if name not in allowed]
    if unknown:
        fail(f"以下用户不是在用的柜员或主管账户：{'、'.join(unknown)}"
             "（令牌只能代为提交该令牌所属网点在用柜员或主管的问询）")
    return tuple(dict.fromkeys(wanted))


def scope_text(scope: api_scope.Scope) -> str:
    return (f"可代为提交：{scope.tellers_text()}；可查看：{api_scope.READ_SCOPES[scope.read]}；"
            f"主管授权：{'可以' if scope.may_supervise else '不可以'}")


@token.command("create")
@instance_option
@click.argument("name")
@click.option("--teller", "tellers", multiple=True, metavar="USERNAME",
              help="A teller or supervisor the token may file for (repeat for several). "
                   "Omitted: every teller and supervisor of the branch.")
@click.option("--read", "read_scope", type=click.Choice(list(api_scope.READ_SCOPES)),
              default="own", show_default=True,
              help="Screenings it reads: own = only those it filed; all = the branch's, the "
                   "web pages' included.")
@click.option("--may-supervise", is_flag=True,
              help="It may submit a supervisor's authorisation (主管授权).")
@click.option("--branch", "branch_code", metavar="CODE",
              help="The code of the branch it acts for (files for and reads that branch's "
                   "screenings only). Omitted: branch 1.")
def create(app, name, tellers, read_scope, may_supervise, branch_code):
    """Create a token for the calling system NAME and print it (once) on standard output."""
    name = name.strip()
    if not name:
        fail("请输入调用系统名称")
    if len(name) > api_tokens.NAME_MAX:
        fail(f"调用系统名称最多 {api_tokens.NAME_MAX} 个字")
    prepare_database(app, err=True)
    with app_db(app) as (database, key):
        branch_id = settings.DEFAULT_BRANCH_ID
        if branch_code is not None:
            found = {row["code"]: row["id"] for row in settings.branches(database)}
            if branch_code.strip() not in found:
                fail(f"网点代码不存在：{branch_code}")
            branch_id = found[branch_code.strip()]
        scope = api_scope.Scope(_checked_tellers(database, tellers, branch_id), read_scope,
                                may_supervise)
        token_id, secret = api_tokens.create(database, key, name, None, scope,
                                             branch_id=branch_id)
    click.echo(f"已创建接口令牌 #{token_id}「{name}」（{scope_text(scope)}）。", err=True)
    click.echo("令牌只显示这一次，请立即保存到调用系统的配置中；系统只保存它的哈希值，"
               "丢失后只能吊销并重新创建。", err=True)
    click.echo(secret)


def _listed(row: dict) -> dict:
    """A token as the list shows it: never the token or its hash."""
    scope = api_scope.Scope.of(row)
    return {
        "id": row["id"], "name": row["name"],
        "created_at": row["created_at"], "last_used_at": row["last_used_at"],
        "revoked_at": row["revoked_at"], "created_by": row["creator"],
        "tellers": None if scope.tellers is None else list(scope.tellers),
        "read": scope.read, "may_supervise": scope.may_supervise,
        "branch": row["branch_code"],
    }


@token.command("list")
@instance_option
@click.option("--json", "as_json", is_flag=True,
              help="One JSON array instead of the table (times in UTC, ISO 8601).")
def list_tokens(app, as_json):
    """Every token, newest first: id, name, created, last used, revoked, scope."""
    prepare_database(app, err=True)
    with app_db(app) as (database, _):
        rows = [_listed(row) for row in api_tokens.list_all(database)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        click.echo("还没有接口令牌。", err=True)
        return
    for row in rows:
        scope = api_scope.Scope(None if row["tellers"] is None else tuple(row["tellers"]),
                                row["read"], row["may_supervise"])
        revoked = labels.local_when(row["revoked_at"])
        click.echo("\t".join([
            f"#{row['id']}", row["name"],
            f"创建 {labels.local_when(row['created_at'])}",
            f"最近使用 {labels.local_when(row['last_used_at']) or '从未'}",
            f"已吊销 {revoked}" if revoked else "有效",
            scope_text(scope)]))


@token.command("revoke")
@instance_option
@click.argument("token_id", metavar="ID", type=int)
def revoke(app, token_id):
    """Revoke token ID: the calling system's next request is refused (401)."""
    prepare_database(app, err=True)
    with app_db(app) as (database, key):
        known = {row["id"]: row for row in api_tokens.list_all(database)}
        row = known.get(token_id)
        if row is None:
            fail(f"接口令牌 #{token_id} 不存在（teller-guard token list 列出全部令牌）")
        if row["revoked_at"]:
            fail(f"接口令牌 #{token_id}「{row['name']}」已于 "
                 f"{labels.local_when(row['revoked_at'])} 吊销")
        if not api_tokens.revoke(database, key, token_id, None):
            fail(f"接口令牌 #{token_id} 刚刚已被吊销")
    click.echo(f"已吊销接口令牌 #{token_id}「{row['name']}」，使用该令牌的系统将无法再调用接口。",
               err=True)
