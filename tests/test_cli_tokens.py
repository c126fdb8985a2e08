"""`teller-guard token create|list|revoke` (issue 15, item 15): the core-banking integration set
up from a script, on the same rows and ledger events as the admin page's 接口令牌."""

import json
import re
from datetime import UTC, datetime, timedelta

from api_helpers import BENIGN, new_token, post
from conftest import csrf_token

from teller_guard.cli import main


def run(runner, app, *args):
    return runner.invoke(main, ["token", *args, "--instance", str(app.instance_path)])


def create(runner, app, *args) -> tuple[int, str]:
    result = run(runner, app, "create", *args)
    assert result.exit_code == 0, result.output
    token_id = int(re.search(r"#(\d+)", result.stderr).group(1))
    return token_id, result.stdout.strip()


def events(database, kind):
    return [(actor, json.loads(data)) for actor, data in database.execute(
        "SELECT actor_id, data FROM ledger WHERE kind = ? ORDER BY id", [kind]).fetchall()]


def test_created_token_is_the_only_line_on_stdout_and_works_against_the_api(runner, app,
                                                                            client):
    result = run(runner, app, "create", "核心系统")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"tg_[A-Za-z0-9_-]{43}\n", result.stdout)
    assert "只显示这一次" in result.stderr and result.stdout.strip() not in result.stderr
    reply = post(client, result.stdout.strip(), BENIGN)
    assert reply.status_code == 201, reply.get_json()
    assert reply.get_json()["api_client"] == "核心系统"


def test_create_takes_the_admin_pages_scope(runner, app, client, database):
    token_id, token = create(runner, app, "柜面前端", "--teller", "teller",
                             "--teller", "supervisor", "--read", "all", "--may-supervise")
    row = database.execute("SELECT tellers, read_scope, may_supervise FROM api_tokens "
                           "WHERE id = ?", [token_id]).fetchone()
    assert (json.loads(row[0]), row[1], row[2]) == (["teller", "supervisor"], "all", 1)
    assert post(client, token, {**BENIGN, "teller": "teller2"}).status_code == 403
    assert post(client, token, BENIGN).status_code == 201
    default_id, _ = create(runner, app, "默认")
    row = database.execute("SELECT tellers, read_scope, may_supervise FROM api_tokens "
                           "WHERE id = ?", [default_id]).fetchone()
    assert tuple(row) == (None, "own", 0)


def test_create_refuses_what_the_admin_page_does_not_offer(runner, app, database):
    for args, message in (
            (["核心系统", "--teller", "security"], "不是在用的柜员或主管账户：security"),
            (["核心系统", "--teller", "nobody"], "nobody"),
            (["  "], "请输入调用系统名称"),
            (["长" * 65], "最多 64 个字"),
            (["核心系统", "--read", "everything"], "everything")):
        result = run(runner, app, "create", *args)
        assert result.exit_code != 0 and message in result.output, (args, result.output)
        assert result.stdout == "" and "Traceback" not in result.output
    assert database.execute("SELECT count(*) FROM api_tokens").fetchone()[0] == 0


def test_create_and_revoke_append_the_events_the_admin_page_does(runner, app, client, auth,
                                                                 database):
    auth.login("admin")
    path = "/admin/api-tokens"
    client.post(path, data={"name": "网页令牌", "csrf_token": csrf_token(client, path)})
    web_id = database.execute("SELECT id FROM api_tokens WHERE name = '网页令牌'").fetchone()[0]
    client.post(f"{path}/{web_id}/revoke", data={"csrf_token": csrf_token(client, path),
                                                 "confirmed": "1"})
    cli_id, _ = create(runner, app, "脚本令牌", "--teller", "teller")
    assert run(runner, app, "revoke", str(cli_id)).exit_code == 0
    (_, web_created), (cli_actor, cli_created) = events(database, "api_token.created")
    assert sorted(cli_created) == sorted(web_created)
    assert cli_actor is None  # run from the command line: no logged-in user
    assert cli_created["token_id"] == cli_id and cli_created["name"] == "脚本令牌"
    assert cli_created["scope"] == {"tellers": ["teller"], "read": "own", "may_supervise": False}
    (_, web_revoked), (_, cli_revoked) = events(database, "api_token.revoked")
    assert sorted(cli_revoked) == sorted(web_revoked)
    assert cli_revoked == {"token_id": cli_id, "name": "脚本令牌"}
    # verify checks every token row against these events (created_by, hash digest, revoked)
    verified = runner.invoke(main, ["verify", "--instance", str(app.instance_path)])
    assert verified.exit_code == 0, verified.output


def test_list_shows_each_token_without_its_secret(runner, app, client, database):
    first_id, first = create(runner, app, "核心系统")
    second_id, second = create(runner, app, "柜面前端", "--teller", "teller", "--read", "all")
    assert post(client, first, BENIGN).status_code == 201
    assert run(runner, app, "revoke", str(second_id)).exit_code == 0
    result = run(runner, app, "list")
    assert result.exit_code == 0, result.output
    hashes = [row[0] for row in database.execute("SELECT token_hash FROM api_tokens")]
    for secret in (first, second, *hashes):
        assert secret not in result.output
    lines = result.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [f"#{second_id}", f"#{first_id}"]
    used = lines[1].split("\t")
    assert used[1] == "核心系统" and used[2].startswith("创建 20")
    assert re.fullmatch(r"最近使用 \d{4}-\d\d-\d\d \d\d:\d\d", used[3])
    assert used[4] == "有效" and "可代为提交：本网点全部柜员和主管" in used[5]
    unused = lines[0].split("\t")
    assert unused[3] == "最近使用 从未" and unused[4].startswith("已吊销 20")
    assert "可代为提交：teller" in unused[5] and "本网点全部问询" in unused[5]
    as_json = json.loads(run(runner, app, "list", "--json").stdout)
    assert [row["id"] for row in as_json] == [second_id, first_id]
    assert as_json[1]["last_used_at"] and as_json[0]["last_used_at"] is None
    assert as_json[0]["revoked_at"] and as_json[0]["tellers"] == ["teller"]
    assert not {"token", "token_hash"} & set(as_json[0])
    for secret in (first, second, *hashes):
        assert secret not in json.dumps(as_json)


def test_revoked_token_gets_401(runner, app, client):
    token_id, token = create(runner, app, "核心系统")
    assert post(client, token, BENIGN).status_code == 201
    result = run(runner, app, "revoke", str(token_id))
    assert result.exit_code == 0 and "已吊销接口令牌" in result.stderr
    assert post(client, token, BENIGN).status_code == 401
    again = run(runner, app, "revoke", str(token_id))
    assert again.exit_code == 1 and "已于" in again.stderr and "吊销" in again.stderr


def test_revoking_an_unknown_id_says_so_in_chinese(runner, app, database):
    result = run(runner, app, "revoke", "999")
    assert result.exit_code == 1
    assert "接口令牌 #999 不存在" in result.stderr and "Traceback" not in result.output
    assert database.execute(
        "SELECT count(*) FROM ledger WHERE kind = 'api_token.revoked'").fetchone()[0] == 0
    not_a_number = run(runner, app, "revoke", "abc")
    assert not_a_number.exit_code == 2 and "Traceback" not in not_a_number.output


def test_last_use_is_stamped_at_most_once_a_minute(app, client, database):
    token_id, token = new_token(app)

    def stamp():
        return database.execute("SELECT last_used_at FROM api_tokens WHERE id = ?",
                                [token_id]).fetchone()[0]

    def set_stamp(seconds_ago: int) -> str:
        value = (datetime.now(UTC) - timedelta(seconds=seconds_ago)).isoformat(
            timespec="seconds")
        database.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?",
                         [value, token_id])
        database.conn.commit()
        return value

    assert stamp() is None
    assert post(client, token, BENIGN).status_code == 201
    assert stamp() is not None
    recent = set_stamp(30)  # used half a minute ago: this request writes nothing
    assert post(client, token, BENIGN).status_code == 201
    assert stamp() == recent
    stale = set_stamp(90)
    assert post(client, token, BENIGN).status_code == 201
    assert stamp() > stale


def test_the_admin_page_shows_a_command_line_token_and_its_last_use(runner, app, client, auth):
    _, used = create(runner, app, "核心系统")
    create(runner, app, "备用系统")
    assert post(client, used, BENIGN).status_code == 201
    auth.login("admin")
    html = client.get("/admin/api-tokens").get_data(as_text=True)
    used_row = re.search(r"<tr><td>核心系统</td>(.*?)</tr>", html, re.S).group(1)
    unused_row = re.search(r"<tr><td>备用系统</td>(.*?)</tr>", html, re.S).group(1)
    assert "命令行" in used_row and "从未" not in used_row
    assert re.search(r"<td>\d{4}-\d\d-\d\d \d\d:\d\d</td>\s*<td>\d{4}-\d\d-\d\d \d\d:\d\d</td>",
                     used_row)
    assert "从未" in unused_row
