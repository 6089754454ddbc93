"""The stable CLI: exit codes, one-line errors on stderr, JSON shapes.

Most tests call `bot.main(argv)` in this process (the same argparse and handlers a shell runs); the ones
about the process itself (exit status, stderr, no traceback) run `python bot.py` for real.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

import bot

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "knowledge" / "data" / "demo_catalog.jsonl"


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


class Runner(Protocol):
    def __call__(self, *args: str, db: Path | None = None, stdin: str | None = None,
                 env: dict[str, str] | None = None) -> Result: ...


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Runner:
    """run(*args, db=, stdin=, env=) -> Result, through bot.main in this process."""
    for name in [k for k in os.environ if k.startswith("GONGKAI_")]:
        monkeypatch.delenv(name)

    def call(*args: str, db: Path | None = None, stdin: str | None = None,
             env: dict[str, str] | None = None) -> Result:
        for key, value in (env or {}).items():
            monkeypatch.setenv(key, value)
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin or ""))
        code = bot.main((["--db", str(db)] if db else []) + list(args))
        out, err = capsys.readouterr()
        return Result(code, out, err)

    return call


def process(*args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GONGKAI_")}
    return subprocess.run([sys.executable, str(ROOT / "bot.py"), *args], capture_output=True, text=True,
                          timeout=60, env=environ, cwd=ROOT)


@pytest.fixture
def db(tmp_path: Path, run: Runner) -> Path:
    path = tmp_path / "cli.db"
    assert run("catalog", "import", str(DEMO), db=path).returncode == 0
    return path


def test_a_new_database_named_by_db_starts_empty(tmp_path: Path, run: Runner) -> None:
    result = run("catalog", "list", "--json", db=tmp_path / "new.db")
    assert result.returncode == 0 and json.loads(result.stdout) == []


def test_gongkai_db_environment_variable(tmp_path: Path, db: Path, run: Runner) -> None:
    result = run("catalog", "list", "--json", env={"GONGKAI_DB": str(db)})
    assert result.returncode == 0 and len(json.loads(result.stdout)) >= 40


def test_ask_warns_when_the_catalog_is_empty(tmp_path: Path, db: Path, run: Runner) -> None:
    """A new database (a mistyped --db) answers nothing: every question would quietly become a request."""
    empty = run("ask", "小饭桌怎么备案", "--json", db=tmp_path / "new.db")
    assert empty.returncode == 0 and "公开目录为空" in empty.stderr and json.loads(empty.stdout)["request_id"]
    assert "公开目录为空" not in run("ask", "小饭桌怎么备案", db=db).stderr


def test_ask_json_shape(db: Path, run: Runner) -> None:
    result = run("ask", "小饭桌怎么备案", "--json", db=db)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) == {"question", "answered", "matches", "request_id", "reply"}
    assert answer["answered"] is True and answer["request_id"] is None
    assert set(answer["matches"][0]) == {"id", "title", "category", "url", "score"}


def test_ask_unanswered_opens_a_request_unless_no_log(db: Path, run: Runner) -> None:
    quiet = json.loads(run("ask", "驾照怎么换证", "--json", "--no-log", db=db).stdout)
    assert quiet["answered"] is False and quiet["request_id"] is None
    assert json.loads(run("requests", "list", "--json", db=db).stdout) == []
    logged = json.loads(run("ask", "驾照怎么换证", "--json", db=db).stdout)
    assert logged["request_id"] and logged["request_id"] in logged["reply"]
    shown = json.loads(run("requests", "show", logged["request_id"], "--json", db=db).stdout)
    assert shown["status"] == "pending" and shown["question"] == "驾照怎么换证"


def test_ask_file_answers_in_order_one_json_per_line(db: Path, run: Runner) -> None:
    questions = "小饭桌怎么备案\n\n驾照怎么换证\n火锅店专项整治\n"
    result = run("ask", "--file", "-", "--json", "--top", "2", db=db, stdin=questions)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["question"] for line in lines] == ["小饭桌怎么备案", "驾照怎么换证", "火锅店专项整治"]
    assert all(len(line["matches"]) <= 2 for line in lines)


def test_bad_import_is_one_line_on_stderr_and_imports_nothing(tmp_path: Path, db: Path, run: Runner) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a1", "title": "好", "category": "办事指南"}\n'
                   '{"id": "a2", "title": "", "category": "办事指南"}\n', encoding="utf-8")
    before = run("catalog", "list", "--json", db=db).stdout
    result = process("--db", str(db), "catalog", "import", str(bad))
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"{bad}:2: title: ")
    assert "Traceback" not in result.stderr
    assert run("catalog", "list", "--json", db=db).stdout == before


@pytest.mark.parametrize("args", [("requests", "show", "2026-9999"), ("notice", "show", "42"),
                                  ("catalog", "show", "nope"), ("ask", "--file", "/no/such/file")])
def test_user_mistakes_are_one_line_without_traceback(db: Path, args: tuple[str, ...], run: Runner) -> None:
    result = run(*args, db=db)
    assert result.returncode != 0 and result.stderr.strip()
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_bad_config_stops_with_file_section_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[web]\nport = "eighty"\n', encoding="utf-8")
    result = process("--config", str(config), "catalog", "list")
    assert result.returncode != 0
    assert result.stderr.strip() == f"{config}: [web] port: 应为整数，现为字符串"


def test_unknown_platform_key_stops_start_up(tmp_path: Path) -> None:
    config = tmp_path / "bot.toml"
    config.write_text('[[bots]]\nname = "dt"\nplatform = "dingtalk"\nwebhook = "https://x/robot/send?access_token=t"\n'
                      'colour = "red"\n', encoding="utf-8")
    result = process("--config", str(config), "--db", str(tmp_path / "g.db"), "run", "--port", "0")
    assert result.returncode != 0 and "colour" in result.stderr and "Traceback" not in result.stderr


def test_enquiry_log_and_stats(db: Path, run: Runner) -> None:
    for question in ("小饭桌怎么备案", "驾照怎么换证", "驾照怎么换证", "买到假货了要投诉"):
        run("ask", question, db=db)
    rows = json.loads(run("enquiries", "list", "--json", db=db).stdout)
    assert [r["question"] for r in rows] == ["买到假货了要投诉", "驾照怎么换证", "驾照怎么换证", "小饭桌怎么备案"]
    assert rows[0]["kind"] == "complaint"
    stats = json.loads(run("enquiries", "stats", "--json", db=db).stdout)
    assert stats["total"] == 4 and stats["by_kind"] == {"enquiry": 3, "complaint": 1}
    assert stats["unanswered_top"] == [{"question": "驾照怎么换证", "count": 2}]
    run("ask", "你好", db=db)  # small talk is a message, not a question: the rate is over questions
    headline = run("enquiries", "stats", db=db).stdout.splitlines()[0]
    assert headline.startswith("消息共 5 条，其中咨询 3 条，咨询答复率 33%")
    unanswered = json.loads(run("enquiries", "list", "--unanswered", "--json", db=db).stdout)
    assert {r["question"] for r in unanswered} == {"驾照怎么换证"}


def test_undelivered_answers_are_listed_with_why(db: Path, run: Runner) -> None:
    """A deferred answer the platform refused: `enquiries list --undelivered` names the question and the error."""
    from handlers import Context, handle_inbound, installation_salt
    from knowledge import Knowledge
    from platforms import Inbound
    from store import open_db, transaction
    from web.runtime import _mark_reply

    conn = open_db(db)
    with transaction(conn):
        ctx = Context(knowledge=Knowledge.build([]), salt=installation_salt(conn))
        for n in (1, 2):
            handle_inbound(conn, ctx, Inbound("dingtalk", "dt", f"m{n}", f"问题{n}", chat="cid"), True)
        _mark_reply(conn, "dingtalk", "m1", "dead", 1, "dingtalk 300001: robot not found")
        _mark_reply(conn, "dingtalk", "m2", "sent", 1, "")
    conn.close()
    text = run("enquiries", "list", "--undelivered", db=db).stdout
    assert "问题1" in text and "【答复未送达：dingtalk 300001: robot not found】" in text and "问题2" not in text
    assert "答复未送达 1 条" in run("enquiries", "stats", db=db).stdout


def test_answers_reported_wrong_are_listed_as_feedback(db: Path, run: Runner) -> None:
    from handlers import Context, handle_inbound, installation_salt
    from knowledge import Knowledge
    from knowledge.catalog import all_items, import_file
    from platforms import Inbound
    from store import open_db, transaction

    conn = open_db(db)
    import_file(conn, str(DEMO))
    with transaction(conn):
        ctx = Context(knowledge=Knowledge.build(all_items(conn)), salt=installation_salt(conn))
        for n, text in enumerate(("小饭桌怎么备案", "答非所问")):
            handle_inbound(conn, ctx, Inbound("webhook", "w", f"f{n}", text, chat="c", sender="u"))
    conn.close()
    text = run("enquiries", "list", "--kind", "feedback", db=db).stdout
    assert "答非所问 答非所问" in text and "→ 20" in text and "小饭桌" not in text
    assert "答非所问 1" in run("enquiries", "stats", db=db).stdout


def test_every_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bot.main(["--help"])
    assert exit_info.value.code == 0
    listing = capsys.readouterr().out
    for command in ("run", "ask", "catalog", "requests", "enquiries", "groups", "notice", "calendar"):
        assert command in listing
        with pytest.raises(SystemExit) as exit_info:
            bot.main([command, "--help"])
        assert exit_info.value.code == 0 and "用法：" in capsys.readouterr().out


def test_newer_pythons_list_choices_without_quotes() -> None:
    from cli.parser import translate

    assert translate("argument --status: invalid choice: 'pendng' (choose from pending, accepted)") == \
        "--status 没有这个取值：'pendng'，是不是 pending？（可选：pending、accepted）"


@pytest.mark.parametrize(("args", "expected"), [
    (["requests", "answer", "2026-0001", "--outcome", "grantd", "--by", "x"],
     "bot.py requests answer：--outcome 没有这个取值：'grantd'，是不是 granted？（可选：already_public、"),
    (["requests", "answer", "2026-0001"], "bot.py requests answer：缺少必填的参数：--outcome, --by"),
    (["requets"], "bot.py：没有这个命令：'requets'，是不是 requests？"),
    (["run", "--port", "abc"], "bot.py run：--port：端口应为 0–65535 的整数：'abc'"),
    (["report", "annual", "二〇二六"], "bot.py report annual：year 的值 '二〇二六' 不是整数"),
    (["requests", "list", "--x"], "bot.py requests list：无法识别的参数：--x"),
    (["digest", "extra"], "bot.py digest：无法识别的参数：extra"),
    (["notice", "schedule", "1"], "bot.py notice schedule：须指定其中之一：--now --at --cron"),
    (["digest", "--json=1"], "bot.py digest：--json 不带值（多了 '1'）"),
    (["requests", "correction", "1", "--by", "x", "--items", "-缺地址"],
     "bot.py requests correction：--items 后面需要一个值（值以 - 开头时写成 --items=值）"),
    (["requests", "list", "--status", "a'b"], "bot.py requests list：--status 没有这个取值：\"a'b\"（可选：pending、"),
])
def test_command_line_mistakes_are_one_chinese_line(capsys: pytest.CaptureFixture[str], args: list[str],
                                                     expected: str) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bot.main(args)
    first, second, *rest = capsys.readouterr().err.splitlines()
    assert exit_info.value.code == 2 and first.startswith(expected) and not rest
    assert second.startswith("用法：python bot.py") and second.endswith(" -h")


def test_a_config_group_clashing_with_a_staff_group_stops_run_before_the_banner(tmp_path: Path) -> None:
    config = tmp_path / "g.toml"
    config.write_text('[[groups]]\nname = "夜市"\nbot = "console"\n\n[[bots]]\nname = "console"\nplatform = "console"\n',
                      encoding="utf-8")
    database = str(tmp_path / "g.db")
    assert process("--db", database, "groups", "add", "夜市", "--bot", "console").returncode == 0
    result = process("--config", str(config), "--db", database, "run", "--port", "0")
    assert result.returncode == 2 and "已启动" not in result.stdout
    assert result.stderr.strip().splitlines()[-1].startswith(f"{config}: [groups.夜市] name: 已有工作人员添加的同名群")
