"""``stocksync up`` and ``stocksync serve`` check every port they will listen on before anything
starts, and refuse a taken one in one line naming the port, what wanted it and the option."""

from __future__ import annotations

import argparse
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from typer.testing import CliRunner

from deployments import up
from stocksync.cli import app
from stocksync.cli.serve import Listener, port_problem


@pytest.fixture
def taken() -> Iterator[int]:
    """A port something listens on."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield int(server.getsockname()[1])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def nothing_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_: Any, **__: Any) -> None:
        raise AssertionError("started something before checking the ports")

    monkeypatch.setattr(up.Stack, "start", refuse)
    monkeypatch.setattr("uvicorn.run", refuse)


def test_a_free_port_is_no_problem() -> None:
    assert port_problem([Listener("127.0.0.1", free_port(), "the receiver", "--port")]) is None


def test_a_taken_port_names_itself_what_wanted_it_and_the_option(taken: int) -> None:
    problem = port_problem([Listener("127.0.0.1", taken, "the webhook receiver", "--port")])

    assert problem == (
        f"port {taken} on 127.0.0.1 (the webhook receiver) is in use; choose another with --port"
    )


def test_two_parts_wanting_one_port_is_a_problem_before_either_binds() -> None:
    port = free_port()
    problem = port_problem(
        [Listener("127.0.0.1", port, "the receiver", "--port"),
         Listener("127.0.0.1", port, "the Prefect server", "--prefect-port")]
    )  # fmt: skip

    assert problem is not None and "--port" in problem and "--prefect-port" in problem


def test_up_refuses_a_taken_prefect_port_before_starting_anything(
    taken: int,
    nothing_starts: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)

    code = up.main(["--port", str(free_port()), "--prefect-port", str(taken)])

    [line] = capsys.readouterr().err.splitlines()
    assert code == 1
    assert f"port {taken}" in line and "Prefect server" in line and "--prefect-port" in line


def test_up_refuses_a_taken_receiver_port_before_starting_anything(
    taken: int,
    nothing_starts: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PREFECT_API_URL", "http://127.0.0.1:1/api")

    code = up.main(["--port", str(taken)])

    [line] = capsys.readouterr().err.splitlines()
    assert code == 1
    assert f"port {taken}" in line and "webhook receiver" in line and "--port" in line


def test_up_checks_the_prefect_port_only_when_it_starts_the_server() -> None:
    args = argparse.Namespace(host="0.0.0.0", port=8080, prefect_port=4200, no_schedules=False)

    assert [
        (w.port, w.option) for w in up.listeners(args, {"PREFECT_API_URL": "http://x/api"})
    ] == [(8080, "--port")]
    assert [w.port for w in up.listeners(args, {})] == [8080, 4200]
    runner_on = {"PREFECT_RUNNER_SERVER_ENABLE": "true", "PREFECT_RUNNER_SERVER_PORT": "8081"}
    assert [w.port for w in up.listeners(args, runner_on)] == [8080, 4200, 8081]


def test_serve_refuses_a_taken_port_in_one_line(taken: int, nothing_starts: None) -> None:
    result = CliRunner().invoke(app, ["serve", "--port", str(taken)])

    assert result.exit_code == 1, result.output
    [line] = result.stderr.splitlines()
    assert line == (
        f"error: port {taken} on 127.0.0.1 (the webhook receiver) is in use; "
        "choose another with --port"
    )
