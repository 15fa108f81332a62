"""Tool calling in agent runs: the loop with every provider, file tools, exec approvals."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fake_models import FakeModels, ScriptedCall
from harness import RawClient
from inprocess import InProcessGateway

MakeGateway = Callable[..., InProcessGateway]


@pytest.fixture
def models() -> Iterator[FakeModels]:
    with FakeModels(api_key="test-key") as fake:
        yield fake


connect = RawClient.to


def run_agent(raw: RawClient, message: str, key: str, timeout: float = 30, **params: Any
              ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Send ``agent``; return the final payload and the run's agent events."""
    raw.events.clear()
    raw.send({"type": "req", "id": key, "method": "agent",
              "params": {"message": message, "idempotencyKey": key, **params}})
    first = raw.response(key, timeout)
    assert first["ok"], first
    final = raw.response(key, timeout)
    events = [e["payload"] for e in raw.events
              if e.get("event") == "agent" and e["payload"]["runId"] == key]
    return final["payload"], events


def tool_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["data"] for e in events if e["stream"] == "tool"]


def text_of(final: dict[str, Any]) -> str:
    return str(final["result"]["payloads"][0]["text"])


FULL = {"tools": {"exec": {"security": "full", "ask": "off"}}}
#: What a gateway without channels offers (``message`` needs a channel).
BUILTIN = {"read", "write", "edit", "exec", "process", "web_fetch", "sessions_list",
           "sessions_history", "sessions_send", "cron"}


def workspace(gateway: InProcessGateway) -> Path:
    return gateway.profile.state_dir / "workspace"


# --------------------------------------------------------------------------- offline


def test_offline_model_writes_reads_and_runs_through_the_loop(
        make_app_gateway: MakeGateway) -> None:
    gateway = make_app_gateway(FULL)
    raw = connect(gateway)
    final, events = run_agent(raw, "write notes.txt: buy milk", "w1")
    assert final["status"] == "ok", final
    assert (workspace(gateway) / "notes.txt").read_text() == "buy milk"
    start, result = tool_events(events)
    assert start == {"phase": "start", "name": "write", "toolCallId": start["toolCallId"],
                     "args": {"path": "notes.txt", "content": "buy milk"}}
    assert result["phase"] == "result" and result["isError"] is False
    assert "wrote 8 bytes to notes.txt" in result["result"] and result["result"] in text_of(final)
    # every tool event comes between the lifecycle start and end, in seq order
    streams = [e["stream"] for e in events]
    assert streams[0] == "lifecycle" and streams[-1] == "lifecycle"
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)

    final, events = run_agent(raw, "read notes.txt", "r1")
    assert "buy milk" in text_of(final) and tool_events(events)[1]["result"] == "buy milk"

    final, events = run_agent(raw, "run `echo hi && echo there`", "x1")
    assert tool_events(events)[1]["result"] == "hi\nthere\n[exit code 0]", events
    assert "hi\nthere" in text_of(final)

    final, _ = run_agent(raw, "edit notes.txt: milk -> bread", "e1")
    assert (workspace(gateway) / "notes.txt").read_text() == "buy bread"


def test_tool_turns_are_in_the_transcript_and_chat_history(make_app_gateway: MakeGateway) -> None:
    gateway = make_app_gateway(FULL)
    raw = connect(gateway)
    run_agent(raw, "write a.txt: one", "t1")
    history = raw.request("chat.history", {"sessionKey": "agent:main:main"})["payload"]
    roles = [m["role"] for m in history["messages"]]
    assert roles == ["user", "toolResult", "assistant"]
    tool = history["messages"][1]
    assert tool["toolName"] == "write" and tool["isError"] is False
    assert tool["content"][0]["text"].startswith("wrote 3 bytes")
    assert tool["__openclaw"]["args"] == {"path": "a.txt", "content": "one"}
    # a later run's context has the reply, not the tool turn
    final, _ = run_agent(raw, "hello", "t2")
    assert final["status"] == "ok"


def test_a_failing_tool_is_an_error_result_and_the_run_still_answers(
        make_app_gateway: MakeGateway) -> None:
    gateway = make_app_gateway(FULL)
    raw = connect(gateway)
    final, events = run_agent(raw, "read missing.txt", "f1")
    assert final["status"] == "ok"
    result = tool_events(events)[1]
    assert result["isError"] is True and "missing.txt does not exist" in result["result"]
    assert "failed" in text_of(final)


def test_secrets_in_tool_output_are_masked(make_app_gateway: MakeGateway) -> None:
    gateway = make_app_gateway(FULL)
    raw = connect(gateway)
    secret = "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0" * 2
    (workspace(gateway) / "env.txt").write_text(f"OPENAI_API_KEY={secret}\n")
    final, events = run_agent(raw, "read env.txt", "s1")
    assert secret not in str(events) and secret not in text_of(final)
    history = raw.request("chat.history", {"sessionKey": "main"})["payload"]
    assert secret not in str(history)


def test_workspace_bootstrap_files_are_created_and_in_the_system_prompt(
        make_app_gateway: MakeGateway, models: FakeModels) -> None:
    gateway = make_app_gateway(openai(models))
    names = {"AGENTS.md", "SOUL.md", "USER.md", "TOOLS.md", "MEMORY.md"}
    assert names <= {p.name for p in workspace(gateway).iterdir()}
    (workspace(gateway) / "SOUL.md").write_text("You are Marvin, a gloomy robot.")
    raw = connect(gateway)
    models.reply("ok")
    run_agent(raw, "who are you?", "b1")
    system = models.bodies("openai")[-1]["messages"][0]
    assert system["role"] == "system" and "You are Marvin, a gloomy robot." in system["content"]
    assert "## MEMORY.md" in system["content"]


# --------------------------------------------------------------------------- HTTP models


def openai(models: FakeModels, **defaults: Any) -> dict[str, Any]:
    return {"agents": {"defaults": {"model": "local/test-model", **defaults}},
            "models": {"providers": {"local": {"api": "openai-completions",
                                               "baseUrl": models.openai_base_url,
                                               "apiKey": "test-key"}}}, **FULL}


def anthropic(models: FakeModels) -> dict[str, Any]:
    return {"agents": {"defaults": {"model": "anthropic/claude-test"}},
            "models": {"providers": {"anthropic": {"baseUrl": models.anthropic_base_url,
                                                   "apiKey": "test-key"}}}, **FULL}


def test_openai_streamed_tool_calls_loop_back_to_the_model(
        make_app_gateway: MakeGateway, models: FakeModels) -> None:
    gateway = make_app_gateway(openai(models))
    (workspace(gateway) / "todo.txt").write_text("water plants")
    raw = connect(gateway)
    models.reply_tool_calls([ScriptedCall("read", {"path": "todo.txt"}, id="call_a", pieces=4),
                             ScriptedCall("exec", {"command": "echo done"}, id="call_b")],
                            text="Checking. ")
    models.reply("You must water the plants.")
    final, events = run_agent(raw, "what is on my list?", "o1")
    assert final["status"] == "ok", final
    assert text_of(final) == "Checking. You must water the plants."
    first, second = models.bodies("openai")
    assert {t["function"]["name"] for t in first["tools"]} == BUILTIN
    sent = second["messages"]
    assert sent[-3]["role"] == "assistant" and sent[-3]["content"] == "Checking. "
    assert [c["id"] for c in sent[-3]["tool_calls"]] == ["call_a", "call_b"]
    assert sent[-3]["tool_calls"][0]["function"]["arguments"] == '{"path": "todo.txt"}'
    assert sent[-2] == {"role": "tool", "tool_call_id": "call_a", "content": "water plants"}
    assert sent[-1] == {"role": "tool", "tool_call_id": "call_b",
                        "content": "done\n[exit code 0]"}
    assert [(e["phase"], e["toolCallId"]) for e in tool_events(events)] == [
        ("start", "call_a"), ("result", "call_a"), ("start", "call_b"), ("result", "call_b")]
    assert final["result"]["meta"]["usage"]["outputTokens"] > 0


def test_anthropic_streamed_tool_use_loops_back_to_the_model(
        make_app_gateway: MakeGateway, models: FakeModels) -> None:
    gateway = make_app_gateway(anthropic(models))
    raw = connect(gateway)
    models.reply_tool_calls([ScriptedCall("write", {"path": "n/x.md", "content": "# X"},
                                          id="toolu_1", pieces=5)])
    models.reply("Saved.")
    final, events = run_agent(raw, "save a note", "a1")
    assert final["status"] == "ok", final
    assert [e["toolCallId"] for e in tool_events(events)] == ["toolu_1", "toolu_1"]
    assert (workspace(gateway) / "n" / "x.md").read_text() == "# X"
    first, second = models.bodies("anthropic")
    assert {t["name"] for t in first["tools"]} == BUILTIN
    assert first["tools"][0]["input_schema"]["type"] == "object"
    assistant, results = second["messages"][-2:]
    assert assistant == {"role": "assistant", "content": [
        {"type": "tool_use", "id": "toolu_1", "name": "write",
         "input": {"path": "n/x.md", "content": "# X"}}]}
    assert results["role"] == "user"
    assert results["content"][0]["type"] == "tool_result"
    assert results["content"][0]["tool_use_id"] == "toolu_1"
    assert text_of(final) == "Saved."


def test_bad_arguments_and_unknown_tools_are_error_results(
        make_app_gateway: MakeGateway, models: FakeModels) -> None:
    gateway = make_app_gateway(openai(models))
    raw = connect(gateway)
    models.reply_tool_calls([("read", {}), ("launch_rockets", {"n": 1}),
                             ("read", {"path": 7})])
    models.reply("Sorry.")
    final, events = run_agent(raw, "go", "bad1")
    assert final["status"] == "ok"
    results = [e["result"] for e in tool_events(events) if e["phase"] == "result"]
    assert results == ["error: missing required argument 'path'",
                       "error: unknown tool 'launch_rockets' (tools: cron, edit, exec, "
                       "process, read, sessions_history, sessions_list, sessions_send, "
                       "web_fetch, write)",
                       "error: argument 'path' must be of type string"]


def test_the_step_limit_ends_the_loop_with_an_answer(
        make_app_gateway: MakeGateway, models: FakeModels) -> None:
    gateway = make_app_gateway(openai(models, maxToolSteps=2))
    raw = connect(gateway)
    for _ in range(2):
        models.reply_tool_calls([("read", {"path": "AGENTS.md"})])
    models.reply("Giving up.")
    final, events = run_agent(raw, "loop forever", "loop1")
    assert final["status"] == "ok" and text_of(final) == "Giving up."
    bodies = models.bodies("openai")
    assert len(bodies) == 3 and "tools" in bodies[1] and "tools" not in bodies[2]
    assert len(tool_events(events)) == 4


# --------------------------------------------------------------------------- exec approvals


def approval_config(**exec_config: Any) -> dict[str, Any]:
    return {"tools": {"exec": exec_config}}


def start_run(raw: RawClient, message: str, key: str) -> None:
    raw.send({"type": "req", "id": key, "method": "agent",
              "params": {"message": message, "idempotencyKey": key}})
    assert raw.response(key)["ok"]


def finish(raw: RawClient, key: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The run's final (also when another request's wait already read it) and its tool
    events."""
    kept = [f for f in raw.events if f.get("type") == "res" and f.get("id") == key]
    final = kept[0]["payload"] if kept else raw.response(key, 30)["payload"]
    events = [e["payload"] for e in raw.events
              if e.get("event") == "agent" and e["payload"]["runId"] == key]
    return final, tool_events(events)


def test_a_fresh_install_asks_and_a_second_client_approves(make_app_gateway: MakeGateway) -> None:
    gateway = make_app_gateway()
    asker, owner = connect(gateway, scopes=["operator.write"]), connect(gateway)
    start_run(asker, "run `echo approved`", "ap1")
    requested = owner.next_event("exec.approval.requested")["payload"]
    request = requested["request"]
    assert request["command"] == "echo approved" and request["security"] == "allowlist"
    assert request["ask"] == "on-miss" and request["sessionKey"] == "agent:main:main"
    assert requested["expiresAtMs"] - requested["createdAtMs"] == 120_000
    pending = owner.request("exec.approval.list", {})["payload"]
    assert [p["id"] for p in pending] == [requested["id"]]
    # a client without operator.approvals neither sees nor answers requests
    assert not [e for e in asker.events if e.get("event") == "exec.approval.requested"]
    refused = asker.request("exec.approval.resolve", {"id": requested["id"],
                                                      "decision": "allow-once"})
    assert not refused["ok"]
    answer = owner.request("exec.approval.resolve", {"id": requested["id"],
                                                     "decision": "allow-once"})
    assert answer["ok"] and answer["payload"]["decision"] == "allow-once"
    resolved = owner.next_event("exec.approval.resolved")["payload"]
    assert resolved["id"] == requested["id"] and resolved["decision"] == "allow-once"
    final, tools = finish(asker, "ap1")
    assert tools[1]["result"] == "approved\n[exit code 0]" and final["status"] == "ok"
    assert owner.request("exec.approval.list", {})["payload"] == []
    # allow-once is not remembered: the same command asks again
    start_run(asker, "run `echo approved`", "ap2")
    again = owner.next_event("exec.approval.requested")["payload"]
    owner.request("exec.approval.resolve", {"id": again["id"], "decision": "deny"})
    final, tools = finish(asker, "ap2")
    assert tools[1]["isError"] and "the owner denied" in tools[1]["result"]
    assert final["status"] == "ok"
    unknown = owner.request("exec.approval.resolve", {"id": again["id"], "decision": "deny"})
    assert not unknown["ok"] and "no pending exec approval" in unknown["error"]["message"]


def test_allow_always_is_remembered_across_a_restart(make_app_gateway: MakeGateway) -> None:
    gateway = make_app_gateway()
    raw = connect(gateway)
    start_run(raw, "run `echo remembered`", "aa1")
    requested = raw.next_event("exec.approval.requested")["payload"]
    raw.request("exec.approval.resolve", {"id": requested["id"], "decision": "allow-always"})
    _, tools = finish(raw, "aa1")
    assert tools[1]["result"] == "remembered\n[exit code 0]"
    raw.close()
    gateway.stop()
    gateway.start_again()
    raw = connect(gateway)
    _, events = run_agent(raw, "run `echo remembered`", "aa2")
    assert tool_events(events)[1]["result"] == "remembered\n[exit code 0]"
    assert not [e for e in raw.events if e.get("event") == "exec.approval.requested"]
    # remembering one command allows that command only
    start_run(raw, "run `echo remembered; id`", "aa3")
    assert raw.next_event("exec.approval.requested")["payload"]["request"]["command"] == (
        "echo remembered; id")


def test_an_unanswered_request_expires_denied(make_app_gateway: MakeGateway) -> None:
    gateway = make_app_gateway(approval_config(approvalTimeoutSeconds=1))
    raw = connect(gateway)
    start_run(raw, "run `touch made.txt`", "ex1")
    resolved = raw.next_event("exec.approval.resolved", timeout=10)["payload"]
    assert resolved["decision"] == "deny" and resolved["resolvedBy"] == "timeout"
    final, tools = finish(raw, "ex1")
    assert tools[1]["isError"] and "did not answer in time" in tools[1]["result"]
    assert not (workspace(gateway) / "made.txt").exists()
    assert final["status"] == "ok"


@pytest.mark.parametrize(("security", "ask", "allowlist", "outcome"), [
    ("deny", "off", [], "refused"),
    ("deny", "always", ["echo *"], "refused"),
    ("allowlist", "off", [], "refused"),
    ("allowlist", "off", ["echo *"], "ran"),
    ("allowlist", "on-miss", ["echo *"], "ran"),
    ("allowlist", "on-miss", [], "asked"),
    ("allowlist", "always", ["echo *"], "asked"),
    ("full", "off", [], "ran"),
    ("full", "on-miss", ["echo *"], "ran"),
    ("full", "on-miss", [], "asked"),
    ("full", "always", ["echo *"], "asked"),
])
def test_each_security_and_ask_combination(make_app_gateway: MakeGateway, security: str, ask: str,
                                           allowlist: list[str], outcome: str) -> None:
    gateway = make_app_gateway(approval_config(security=security, ask=ask, allowlist=allowlist))
    raw = connect(gateway)
    start_run(raw, "run `echo combo`", "c1")
    if outcome == "asked":
        requested = raw.next_event("exec.approval.requested")["payload"]
        assert requested["request"]["security"] == security
        raw.request("exec.approval.resolve", {"id": requested["id"], "decision": "allow-once"})
    _, tools = finish(raw, "c1")
    if outcome == "refused":
        assert tools[1]["isError"] and tools[1]["result"].startswith("error: exec refused")
    else:
        assert tools[1]["result"] == "combo\n[exit code 0]"
    asked = [e for e in raw.events if e.get("event") == "exec.approval.requested"]
    assert bool(asked) is False  # consumed above when asked; never sent otherwise


def test_exec_times_out_kills_and_caps_output(make_app_gateway: MakeGateway) -> None:
    gateway = make_app_gateway({"tools": {"exec": {"security": "full", "ask": "off",
                                          "timeoutSeconds": 1, "maxOutputChars": 100}}})
    raw = connect(gateway)
    _, events = run_agent(raw, "run `echo start; sleep 30 & wait`", "k1")
    assert tool_events(events)[1]["result"] == "start\n[timed out after 1s: killed]"
    _, events = run_agent(raw, "run `yes | head -c 5000`", "k2")
    result = tool_events(events)[1]["result"]
    assert "[output cut: 4900 more bytes]" in result and result.endswith("[exit code 0]")


def test_exec_does_not_inherit_secret_variables(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    gateway = InProcessGateway(home, FULL, env={"MY_API_KEY": "hush-hush-value",
                                                "PLAIN_VAR": "visible"})
    gateway.start()
    try:
        raw = connect(gateway)
        _, events = run_agent(raw, 'run `echo "[$MY_API_KEY][$PLAIN_VAR]"`', "env1")
    finally:
        gateway.stop()
    assert tool_events(events)[1]["result"].startswith("[][")


# --------------------------------------------------------------------------- confinement


@pytest.mark.parametrize("path", ["../outside.txt", "sub/../../outside.txt", "/etc/passwd",
                                  "link/secret.txt", "filelink"])
def test_file_tools_refuse_paths_outside_the_workspace(make_app_gateway: MakeGateway,
                                                       path: str) -> None:
    gateway = make_app_gateway(FULL)
    outside = gateway.home / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("top secret")
    os.symlink(outside, workspace(gateway) / "link")
    os.symlink(outside / "secret.txt", workspace(gateway) / "filelink")
    raw = connect(gateway)
    for index, message in enumerate([f"read {path}", f"write {path}: pwned",
                                     f"edit {path}: top -> no"]):
        _, events = run_agent(raw, message, f"esc{index}")
        result = tool_events(events)[1]
        assert result["isError"] and "outside the workspace" in result["result"], result
        assert "top secret" not in result["result"]
    assert (outside / "secret.txt").read_text() == "top secret"
    assert not (gateway.home / ".openclaw" / "outside.txt").exists()


def test_exec_workdir_is_confined(make_app_gateway: MakeGateway, models: FakeModels) -> None:
    gateway = make_app_gateway(openai(models))
    raw = connect(gateway)
    models.reply_tool_calls([("exec", {"command": "pwd", "workdir": "../.."}),
                             ("exec", {"command": "pwd"})])
    models.reply("ok")
    _, events = run_agent(raw, "where am I", "wd1")
    first, second = (e["result"] for e in tool_events(events) if e["phase"] == "result")
    assert "outside the workspace" in first
    assert second == f"{workspace(gateway).resolve()}\n[exit code 0]"


def test_an_aborted_run_kills_its_command(make_app_gateway: MakeGateway) -> None:
    gateway = make_app_gateway(FULL)
    raw = connect(gateway)
    start_run(raw, "run `echo $$ > shell.pid; echo started; sleep 60`", "ab1")
    while True:  # until the command has started
        event = raw.next_event("agent")["payload"]
        if event["stream"] == "tool":
            break
    pid_file = workspace(gateway) / "shell.pid"
    other = connect(gateway)
    answer = other.request("agent.abort", {"runId": "ab1"})
    assert answer["ok"] and answer["payload"]["aborted"] is True
    final = raw.response("ab1", 10)["payload"]
    assert final["status"] == "error" and final["error"]["code"] == "ABORTED"
    if pid_file.exists() and pid_file.read_text().strip():  # the shell got that far
        with pytest.raises(ProcessLookupError):
            os.kill(int(pid_file.read_text()), 0)


def test_a_request_whose_run_is_aborted_is_withdrawn(make_app_gateway: MakeGateway) -> None:
    gateway = make_app_gateway()
    raw = connect(gateway)
    start_run(raw, "run `echo never`", "wd2")
    requested = raw.next_event("exec.approval.requested")["payload"]
    assert connect(gateway).request("agent.abort", {"runId": "wd2"})["payload"]["aborted"]
    assert raw.response("wd2", 10)["payload"]["error"]["code"] == "ABORTED"
    resolved = raw.next_event("exec.approval.resolved")["payload"]
    assert resolved == {**resolved, "id": requested["id"], "decision": "deny",
                        "resolvedBy": "run-ended"}
    assert raw.request("exec.approval.list", {})["payload"] == []


# --------------------------------------------------------------------------- session.tool


def test_tool_calls_go_as_session_tool_events_to_the_sessions_subscribers(
        make_app_gateway: MakeGateway) -> None:
    gateway = make_app_gateway(FULL)
    follower, other, bystander = connect(gateway), connect(gateway), connect(gateway)
    assert follower.request("sessions.messages.subscribe",
                            {"key": "agent:main:main"})["ok"]
    assert other.request("sessions.messages.subscribe", {"key": "elsewhere"})["ok"]
    final, events = run_agent(follower, "run `echo hi`", "st1")
    assert final["status"] == "ok"
    tool_agent_events = [e for e in events if e["stream"] == "tool"]
    follower.next_event("session.message")  # the run's turns are out: all events are in
    session_tools = [e["payload"] for e in follower.events
                     if e.get("event") == "session.tool"]
    assert [t["data"]["phase"] for t in session_tools] == ["start", "result"]
    assert session_tools == [{**e, "sessionKey": "agent:main:main", "agentId": "main"}
                             for e in tool_agent_events]
    assert session_tools[0]["data"]["args"] == {"command": "echo hi"}
    assert session_tools[1]["data"]["result"] == "hi\n[exit code 0]"
    # not subscribed to this session, or to none: no session.tool
    other.request("health", {})
    bystander.request("health", {})
    for raw in (other, bystander):
        assert not [e for e in raw.events if e.get("event") == "session.tool"]
    # unsubscribed: no more of them
    follower.request("sessions.messages.unsubscribe", {"key": "main"})
    follower.events.clear()
    run_agent(follower, "run `echo again`", "st2")
    assert not [e for e in follower.events if e.get("event") == "session.tool"]


# --------------------------------------------------------------------------- sessions_send


def test_sessions_send_runs_a_turn_in_another_session_and_answers_its_reply(
        make_app_gateway: MakeGateway, models: FakeModels) -> None:
    gateway = make_app_gateway(openai(models))
    raw = connect(gateway)
    models.reply_tool_calls([ScriptedCall("sessions_send", {
        "sessionKey": "agent:main:notes", "message": "remember milk"}, id="call_s")])
    models.reply("Noted: milk.")  # the turn in "notes"
    models.reply("Passed it on.")  # the caller, after the tool's result
    final, events = run_agent(raw, "tell notes to remember milk", "ss1")
    assert final["status"] == "ok" and text_of(final) == "Passed it on."
    result = tool_events(events)[1]
    assert not result["isError"], result
    answer = json.loads(result["result"])
    assert answer == {"runId": "sessions_send:ss1:call_s", "sessionKey": "agent:main:notes",
                      "status": "ok", "reply": "Noted: milk."}
    # the turn is in that session's transcript, as a run of its own
    history = raw.request("chat.history", {"sessionKey": "agent:main:notes"})["payload"]
    texts = [m["content"][0]["text"] for m in history["messages"]]
    assert texts == ["remember milk", "Noted: milk."]
    waited = raw.request("agent.wait", {"runId": "sessions_send:ss1:call_s"})["payload"]
    assert waited["status"] == "ok"
    # the same run and call again find that run: no new turn, no model call
    calls = len(models.bodies("openai"))
    status, again = gateway.run(_submit_again(gateway, "sessions_send:ss1:call_s"))
    assert status == "final" and again["status"] == "ok"
    assert len(models.bodies("openai")) == calls


async def _submit_again(gateway: InProcessGateway, run_id: str) -> tuple[str, Any]:
    return gateway.app.agent.submit(run_id, "remember milk", session_key="notes")


def test_sessions_send_refusals_idempotency_and_a_slow_reply() -> None:
    import asyncio

    from openclaw.agent.session_tools import sessions_send_tool
    from openclaw.agent.tools import ToolContext, ToolError

    submitted: list[tuple[str, str, str]] = []

    async def scenario() -> None:
        futures: dict[str, asyncio.Future[dict[str, Any]]] = {}

        def submit(run_id: str, key: str, message: str) -> asyncio.Future[dict[str, Any]]:
            submitted.append((run_id, key, message))
            return futures.setdefault(run_id, asyncio.get_running_loop().create_future())

        tool = sessions_send_tool(submit)
        context = ToolContext("r1", "main", "c1")
        slow = await tool.handler({"sessionKey": "other", "message": "hi",
                                   "waitSeconds": 0.05}, context)
        assert json.loads(slow) == {"runId": "sessions_send:r1:c1",
                                    "sessionKey": "agent:main:other", "status": "running"}
        futures["sessions_send:r1:c1"].set_result(
            {"status": "ok", "result": {"payloads": [{"text": "hello back"}]}})
        again = await tool.handler({"sessionKey": "agent:main:other", "message": "hi"},
                                   context)
        assert json.loads(again)["reply"] == "hello back"
        assert [s[0] for s in submitted] == ["sessions_send:r1:c1"] * 2
        for arguments, ctx, said in [
                ({"sessionKey": "main", "message": "x"}, context, "its own session"),
                ({"sessionKey": "other", "message": "x"},
                 ToolContext("sessions_send:r0:c0", "x", "c2"), "cannot send on"),
                ({"sessionKey": "agent:ops:x", "message": "x"}, context, "unknown session"),
                ({"sessionKey": "other", "message": "  "}, context, "must not be empty")]:
            with pytest.raises(ToolError, match=said):
                await tool.handler(arguments, ctx)
        assert len(submitted) == 2

    asyncio.run(scenario())
