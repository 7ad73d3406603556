"""The `assistant` command: serve the web app, migrate, ask one question, ingest files."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from assistant import PROJECT_ROOT, logs
from assistant.agent import TurnFinished
from assistant.graph import migrate
from assistant.messages import Attachment, Message, ToolCall, to_json
from assistant.money import format_date, format_money
from assistant.settings import Settings, get_settings

app = typer.Typer(help="The bill assistant.", no_args_is_help=True, add_completion=False)
db_app = typer.Typer(help="Database commands.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()
err = Console(stderr=True)
T = TypeVar("T")

UserOpt = Annotated[str, typer.Option("--user", "-u", help="whose bills (the sign-in name)")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of text")]


def _settings(level: str | None = None) -> Settings:
    """Settings, with logging set up; one-shot commands log warnings and worse unless LOG_LEVEL=DEBUG."""
    settings = get_settings()
    if level is None:
        level = settings.log_level if settings.log_level.upper() == "DEBUG" else "WARNING"
    logs.configure(settings.environment, level)
    return settings


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or update the database schema (idempotent)."""
    settings = _settings()
    asyncio.run(migrate.upgrade(settings.database_url))
    console.print(f"database is up to date ({settings.database_url.split('://')[0]})")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="default: ASSISTANT_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default: ASSISTANT_PORT")] = None,
) -> None:
    """Migrate the database, then serve the chat on http://HOST:PORT."""
    settings = get_settings()
    logs.configure(settings.environment, settings.log_level)
    asyncio.run(migrate.upgrade(settings.database_url))
    env = dict(os.environ)
    # `chainlit run` reads CI=true as its own --ci flag, which replaces OPENAI_API_KEY with a fake
    # one; our server is the app, not Chainlit's test harness, whatever machine it runs on.
    env.pop("CI", None)
    env["CHAINLIT_AUTH_SECRET"] = settings.ensure_auth_secret()
    env["CHAINLIT_APP_ROOT"] = str(PROJECT_ROOT)
    env["ASSISTANT_DATA_DIR"] = str(settings.data_dir.resolve())
    target = str(PROJECT_ROOT / "assistant" / "web" / "app.py")
    argv = [sys.executable, "-m", "chainlit", "run", target, "--headless",
            "--host", host or settings.host, "--port", str(port or settings.port)]
    console.print(f"serving on http://{host or settings.host}:{port or settings.port}")
    os.chdir(PROJECT_ROOT)
    os.execvpe(argv[0], argv, env)


async def _services(settings: Settings):
    from assistant.service import build_services

    await migrate.upgrade(settings.database_url)
    return build_services(settings)


@app.command()
def providers() -> None:
    """Which model providers this installation offers, in order, and why any are not offered."""
    from assistant.providers.registry import KNOWN, setup_providers

    settings = _settings()
    setup = setup_providers(settings)
    table = Table("provider", "status", "model / reason")
    for name in settings.provider_order():
        if name in setup.offered:
            table.add_row(name, "offered", setup.offered[name].model)
        elif name in setup.refused:
            table.add_row(name, "refused", setup.refused[name])
        elif name in KNOWN:
            table.add_row(name, "not configured", "no API key (openai-compatible: no base URL)")
    console.print(table)


@app.command()
def usage(user: Annotated[str | None, typer.Option("--user", "-u", help="one user (default: everyone)")] = None,
          as_json: JsonOpt = False) -> None:
    """What model calls cost: the last hour, today and this month, by provider and model."""
    settings = _settings()

    async def run() -> dict:
        services = await _services(settings)
        try:
            user_id = None
            if user is not None:
                from assistant.graph.users import get_user

                async with services.sessions() as session:
                    found = await get_user(session, user)
                if found is None:
                    raise typer.BadParameter(f"no user called {user!r}", param_hint="--user")
                user_id = found.id
            return await services.budget.report(user_id)
        finally:
            await services.close()

    report = asyncio.run(run())
    if as_json:
        print(to_json(report))
        return
    who = f"user {user}" if user else "the whole installation"
    console.print(f"AI spend for {who} (days in {report['timezone']}):")
    table = Table("window", "provider", "model", "calls", "input tok", "output tok", "cached tok", "cost ($)")
    for window, data in report["windows"].items():
        table.add_row(window, "[b]all[/b]", "", str(data["calls"]), "", "", "", f"[b]{data['cost']}[/b]")
        for r in data["by_model"]:
            table.add_row("", r["provider"], r["model"], str(r["calls"]), f"{r['input_tokens']:,}",
                          f"{r['output_tokens']:,}", f"{r['cached_tokens']:,}", r["cost"])
    console.print(table)
    console.print("limits: " + ", ".join(f"{k} ${v}" for k, v in report["limits"].items()))


ProviderOpt = Annotated[str | None, typer.Option("--provider", help="provider to try first")]
ModelOpt = Annotated[str | None, typer.Option("--model", help="model for that provider")]


@app.command()
def ask(question: str, user: UserOpt = "demo", as_json: JsonOpt = False, provider: ProviderOpt = None,
        model: ModelOpt = None) -> None:
    """Ask one question, through the same agent loop as the chat."""
    from assistant.providers.registry import UnpricedModel

    settings = _settings()

    async def run() -> TurnFinished:
        services = await _services(settings)
        try:
            chosen = services.providers.chain(settings, first=provider, model=model) if provider else None
            ctx = services.tool_context(await services.user_id(user))
            finished = None
            async for event in services.agent.run_turn([], Message("user", question), ctx, chosen):
                if isinstance(event, TurnFinished):
                    finished = event
            return finished
        finally:
            await services.close()

    try:
        finished = asyncio.run(run())
    except UnpricedModel as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from None
    if as_json:
        print(to_json({
            "answer": finished.text, "provider": finished.provider, "model": finished.model,
            "notices": finished.notices,
            "tool_calls": finished.tool_calls, "cost": finished.cost, "stopped": finished.stopped,
            "usage": {"input_tokens": finished.usage.input_tokens, "output_tokens": finished.usage.output_tokens,
                      "cached_tokens": finished.usage.cached_tokens},
        }))
    else:
        console.print(finished.text, markup=False)
        for notice in finished.notices:
            err.print(f"[yellow]{notice}[/yellow]", markup=True)
        err.print(f"[dim]{finished.provider} ({finished.model}) · cost ${finished.cost:.4f}[/dim]")
    if finished.stopped:
        raise typer.Exit(1)


@app.command()
def ingest(files: Annotated[list[Path], typer.Argument(exists=False)], user: UserOpt = "demo",
           as_json: JsonOpt = False) -> None:
    """File each bill and print what was recorded."""
    settings = _settings()

    async def run() -> list[dict]:
        services = await _services(settings)
        records = []
        try:
            user_id = await services.user_id(user)
            from rich.progress import Progress

            progress = Progress(console=err, transient=True, disable=as_json or len(files) < 2)
            task = progress.add_task("filing", total=len(files))
            progress.start()
            for i, path in enumerate(files, start=1):
                progress.update(task, advance=1, description=path.name[:40])
                if not path.is_file():
                    records.append({"file": str(path), "filed": False, "error": "no such file"})
                    continue
                attachment = Attachment(id=f"file-{i}", name=path.name, source="cli", path=path)
                ctx = services.tool_context(user_id, [attachment])
                outcome = await services.registry.call(ToolCall(f"ingest-{i}", "add_bill", {"attachment_id": attachment.id}), ctx)
                record = {"file": str(path), **outcome.result}
                if outcome.is_error:
                    record["filed"] = False
                records.append(record)
            progress.stop()
        finally:
            await services.close()
        return records

    records = asyncio.run(run())
    if as_json:
        for record in records:
            print(to_json(record))
    else:
        table = Table("file", "result", "vendor", "amount", "due", "bill")
        for r in records:
            b = r.get("bill") or {}
            result = "filed" if r.get("filed") else ("already filed" if r.get("duplicate") else f"not filed: {r.get('error')}")
            table.add_row(Path(r["file"]).name, result, b.get("vendor", ""),
                          format_money(b["amount"], b["currency"]) if b else "",
                          format_date(b.get("due_date")) if b else "", f"#{b['id']}" if b else "")
        console.print(table)
    if any(not r.get("filed") and not r.get("duplicate") for r in records):
        raise typer.Exit(1)


@app.command("calendar")
def calendar_cmd(user: UserOpt = "demo",
                 days: Annotated[int, typer.Option("--days", min=1, max=366, help="how many days ahead "
                                                   "(overdue bills are always in)")] = 90,
                 output: Annotated[Path | None, typer.Option("--output", "-o", help="write the .ics here "
                                                             "(default: standard output)")] = None) -> None:
    """Export the user's unpaid bills' due dates as an iCalendar (.ics) file for a calendar app."""
    settings = _settings()

    async def run() -> tuple[str, int]:
        from assistant.calendar import user_calendar

        services = await _services(settings)
        try:
            return await user_calendar(services.sessions, await services.user_id(user), services.today(), days)
        finally:
            await services.close()

    text, events = asyncio.run(run())
    data = text.encode("utf-8")  # CRLF line endings kept as they are
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    output.write_bytes(data)
    err.print(f"wrote {events} event{'s' if events != 1 else ''} to {output}")


@app.command("user-add")
def user_add(name: str, password: Annotated[str, typer.Option(prompt=True, hide_input=True,
                                                              confirmation_prompt=True)]) -> None:
    """Create a user (or set their password)."""
    settings = _settings()

    async def run() -> None:
        from assistant.graph.users import hash_password, seed_users

        services = await _services(settings)
        try:
            await seed_users(services.sessions, [(name, hash_password(password))])
        finally:
            await services.close()

    asyncio.run(run())
    console.print(f"user {name} is ready")


@app.command()
def reindex(everything: Annotated[bool, typer.Option("--all", help="redo every document, not only those "
                                                                 "missing from the index")] = False) -> None:
    """Put filed documents into the search index: those filed while it was down, or all of them."""
    settings = _settings()

    async def run() -> tuple[int, int]:
        from sqlalchemy import func, select

        from assistant.documents.catchup import index_pending, reset_index_marks
        from assistant.graph.models import Document

        services = await _services(settings)
        try:
            if everything:
                await reset_index_marks(services.sessions)
            done = 0
            while batch := await index_pending(services.index, services.sessions, None, limit=100):
                done += batch
            async with services.sessions() as session:
                left = await session.scalar(select(func.count()).select_from(Document)
                                            .where(Document.indexed_at.is_(None)))
            return done, left or 0
        finally:
            await services.close()

    done, left = asyncio.run(run())
    console.print(f"indexed {done} document(s)" + (f"; {left} could not be indexed (is the index reachable?)"
                                                   if left else ""))
    if left:
        raise typer.Exit(1)


def _plain(target: Console, text: str) -> None:
    """Print as is: paths and messages may hold `[...]`, which rich would read as markup."""
    target.print(text, markup=False, highlight=False, soft_wrap=True)


def _backup_step(run: Callable[[Settings], Awaitable[T]]) -> T:
    """Run a backup or restore; its refusal (`BackupError`) is printed and exits 1."""
    from assistant.backup import BackupError

    try:
        return asyncio.run(run(_settings()))
    except BackupError as exc:
        _plain(err, f"error: {exc}")
        raise typer.Exit(1) from None


@app.command()
def backup(output: Annotated[Path | None, typer.Option("--output", "-o", help="the directory to write the archive "
                                                       "into (default: BACKUP_DIR)")] = None,
           keep: Annotated[int | None, typer.Option("--keep", min=0, help="then keep only the newest N archives "
                                                    "there (default: BACKUP_KEEP; 0 keeps all)")] = None) -> None:
    """Write one archive of the installation (database, stored documents, chat attachments, search index,
    manifest with checksums) and print its path."""
    from assistant.backup import create_backup

    result = _backup_step(lambda settings: create_backup(settings, output, keep))
    for note in result.warnings:
        _plain(err, f"warning: {note}")
    for path in result.deleted:
        _plain(err, f"deleted the older backup {path}")
    print(result.path)  # plain, unwrapped: for scripts


@app.command()
def restore(archive: Annotated[Path, typer.Argument(help="an archive written by `assistant backup`")],
            force: Annotated[bool, typer.Option("--force", help="replace a non-empty installation: delete its rows, "
                                                "stored files and index chunks first")] = False) -> None:
    """Bring a backup back into this installation (DATABASE_URL, the data dir, the search index), which must
    be empty; the archive is checked whole before anything is changed. Stop the app first."""
    from assistant.backup import restore_backup

    result = _backup_step(lambda settings: restore_backup(settings, archive, force))
    if result.replaced:
        _plain(console, "replaced: " + "; ".join(result.replaced))
    schema = f"schema {result.revision}" + (f", upgraded to {result.upgraded_to}" if result.upgraded_to else "")
    _plain(console, f"restored {result.archive.name}: {result.rows} rows in {result.tables} tables ({schema}), "
                    f"{result.files} files, {result.chunks} index chunks"
                    + (f", {result.reindexed} documents indexed again" if result.reindexed else ""))


eval_app = typer.Typer(help="Measure the assistant on documents with known answers.", no_args_is_help=True)
app.add_typer(eval_app, name="eval")


@eval_app.command("extraction")
def eval_extraction(directory: Annotated[Path, typer.Argument(help="invoice2data-style folder: docs/ and gt/")],
                    as_json: JsonOpt = False,
                    ocr: Annotated[bool, typer.Option("--ocr", help="also read the photos (OCR, seconds each)")] = False,
                    ) -> None:
    """Run the offline extractor over DIR/docs and score it against DIR/gt."""
    from assistant.documents.evaluate import evaluate

    try:
        report = evaluate(directory, images=ocr)
    except FileNotFoundError as exc:
        err.print(f"error: {exc}")
        raise typer.Exit(2) from None
    if as_json:
        print(to_json(report.to_dict()))
        return
    table = Table("field", "correct", "accuracy")
    for name, score in report.per_field.items():
        table.add_row(name, f"{score.correct}/{score.total}", f"{score.accuracy:.0%}")
    table.add_row("[b]overall[/b]", f"{report.correct}/{report.total}", f"[b]{report.overall:.1%}[/b]")
    console.print(table)
    misses = Table(title=f"{len(report.misses)} misses")
    for column in ("file", "field", "expected", "got", "confidence"):
        misses.add_column(column, overflow="fold")
    for m in report.misses:
        misses.add_row(m.file, m.field, str(m.expected), str(m.got), f"{m.confidence:.2f}")
    console.print(misses)
    if report.skipped:
        console.print("skipped: " + ", ".join(f"{s['file']} ({s['reason']})" for s in report.skipped))
    console.print("throughput (documents/s, reading + extraction): "
                  + ", ".join(f"{kind} {rate}" for kind, rate in report.throughput().items()))


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    app()
