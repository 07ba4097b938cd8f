"""The command line: every command documented, ingest exit status, search output."""

from __future__ import annotations

import json

import click
from click.testing import CliRunner

from kunskap.cli import cli

from .conftest import write_case


def all_commands(group: click.Group, prefix=""):
    for name, command in group.commands.items():
        yield f"{prefix}{name}", command
        if isinstance(command, click.Group):
            yield from all_commands(command, f"{prefix}{name} ")


def test_every_command_and_option_has_help_text():
    commands = list(all_commands(cli))
    assert {"ingest", "search", "serve", "eval"} <= {name for name, _ in commands}
    for name, command in commands:
        assert command.help and command.help.strip(), f"'kunskap {name}' has no help text"
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"option {param.opts} of 'kunskap {name}' has no help text"
        result = CliRunner().invoke(cli, [*name.split(), "--help"])
        assert result.exit_code == 0 and "Usage" in result.output


def test_ingest_reports_rejections_with_exit_status_2(corpus, tmp_path):
    write_case(corpus, "trasig.md", "T", "X kommun", "text", year="inte ett år")
    runner = CliRunner()
    args = ["ingest", str(corpus), "--index", str(tmp_path / "idx"), "--model", "hashing", "--quiet"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2
    assert "Avvisad: trasig.md: fältet 'year'" in result.output
    assert "5 nya" in result.output
    (corpus / "trasig.md").unlink()
    again = runner.invoke(cli, args)
    assert again.exit_code == 0 and "5 oförändrade" in again.output


def test_search_json_and_missing_index(corpus, tmp_path):
    runner = CliRunner()
    index = str(tmp_path / "idx")
    missing = runner.invoke(cli, ["search", "cykel", "--index", index, "--model", "hashing"])
    assert missing.exit_code == 1 and "kunskap ingest" in missing.output
    runner.invoke(cli, ["ingest", str(corpus), "--index", index, "--model", "hashing", "--quiet"])
    out = runner.invoke(cli, ["search", "cyklar", "--index", index, "--model", "hashing", "--json", "-k", "2"])
    assert out.exit_code == 0
    data = json.loads(out.output)
    # -k 2 caps the list at two although all five documents match in hybrid mode
    assert len(data["results"]) == 2 and data["results"][0]["id"] == "lund-cykel" and data["total"] == 5
    text = runner.invoke(cli, ["search", "cyklar", "--index", index, "--model", "hashing"])
    assert text.exit_code == 0 and "1. Cykelvägar och cykelpendling i Lund – Lunds kommun" in text.output
    status = runner.invoke(cli, ["status", "--index", index, "--model", "hashing"])
    assert "Dokument: 5" in status.output


def test_bad_settings_are_a_clear_error(tmp_path):
    result = CliRunner().invoke(cli, ["ingest", str(tmp_path), "--index", str(tmp_path / "i"), "--threads", "0"])
    assert result.exit_code == 1 and "Ogiltiga inställningar" in result.output
    missing = CliRunner().invoke(cli, ["ingest", str(tmp_path / "finns-inte"), "--index", str(tmp_path / "i"),
                                       "--model", "hashing"])
    assert missing.exit_code == 1 and "finns inte" in missing.output


def test_token_revoke_refuses_an_id_beyond_sqlite_range(tmp_path):
    result = CliRunner().invoke(cli, ["token", "revoke", "99999999999999999999", "--index", str(tmp_path / "i")])
    assert result.exit_code == 2 and "99999999999999999999" in result.output and result.exception is not None
    assert not isinstance(result.exception, OverflowError)
