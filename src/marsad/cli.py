"""The `marsad` command line: a thin edge that parses arguments, calls the library, prints."""

from __future__ import annotations

import json
import sys
from importlib import resources
from pathlib import Path

import click

from . import __version__
from .errors import MarsadError
from .export import article_to_record, write_jsonl, write_parquet
from .pipeline import IngestReport, ingest, parse_inputs
from .store import open_store, resolve_db


def _open(ctx: click.Context):
    try:
        return open_store(ctx.obj["db"])
    except MarsadError as exc:
        raise click.ClickException(str(exc)) from exc


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="marsad")
@click.option("--db", envvar="MARSAD_DB", default=None, metavar="PATH",
              help="SQLite database file (default: $MARSAD_DB or ./marsad.db).")
@click.pass_context
def cli(ctx: click.Context, db: str | None) -> None:
    """marsad (مرصد): collect, clean, search and read Arabic news."""
    ctx.obj = {"db": resolve_db(db)}


@cli.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "text"]), default="jsonl", show_default=True)
def parse(paths: tuple[str, ...], fmt: str) -> None:
    """Parse text pages or JSONL dumps and print the articles, without storing them."""
    failed = 0
    for item in parse_inputs(list(paths)):
        if item.error:
            failed += 1
            click.echo(f"error: {item.where}: {item.error}", err=True)
            continue
        titles = {a.id: a.title for a in item.articles}
        records = [article_to_record(a, [titles.get(i, i) for i in a.read_also]) for a in item.articles]
        if fmt == "jsonl":
            write_jsonl(records, sys.stdout)
        else:
            for record in records:
                _print_record(record)
    if failed:
        sys.exit(1)


def _print_record(record: dict) -> None:
    click.secho(record["title"], bold=True)
    meta = [record["source"] + (" (inferred)" if record["source_inferred"] else "") if record["source"] else None,
            record["published_at"], record["id"]]
    click.echo("  " + " · ".join(m for m in meta if m))
    if record["tags"]:
        click.echo("  tags: " + " | ".join(record["tags"]))
    click.echo()
    for paragraph in record["text"].split("\n"):
        click.echo(paragraph)
        click.echo()
    for title in record["read_also"]:
        click.echo(f"  read also: {title}")
    click.echo("-" * 60)


def _summary(report: IngestReport) -> None:
    click.echo(
        f"{report.files} file(s): {report.new} new, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.failed)} failed", err=True,
    )
    for where, reason in report.failed[:50]:
        click.echo(f"  failed: {where}: {reason}", err=True)
    if len(report.failed) > 50:
        click.echo(f"  ... and {len(report.failed) - 50} more failures", err=True)


def _run_ingest(ctx: click.Context, paths: list[str], quiet: bool) -> IngestReport:
    from tqdm import tqdm

    bar = None

    def on_start(total: int) -> None:
        nonlocal bar
        bar = tqdm(total=total, unit="B", unit_scale=True, desc="ingest", disable=True if quiet else None,
                   file=sys.stderr)

    position = {"file": None, "done": 0, "base": 0}

    def on_item(item) -> None:
        # Progress is in bytes of input: the only total known before reading a dump.
        where = item.where.rsplit(":", 1)[0] if ":" in item.where else item.where
        if where != position["file"]:
            position["base"] += position["done"]
            position["file"], position["done"] = where, 0
        if bar is not None and item.consumed > position["done"]:
            bar.update(item.consumed - position["done"])
            position["done"] = item.consumed

    with _open(ctx) as store:
        report = ingest(store, paths, on_start=on_start, on_item=on_item)
    if bar is not None:
        bar.close()
    return report


@cli.command("ingest")
@click.argument("paths", nargs=-1, required=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def ingest_cmd(ctx: click.Context, paths: tuple[str, ...], quiet: bool) -> None:
    """Store text pages and JSONL dumps (files, folders, globs); re-running adds nothing twice."""
    report = _run_ingest(ctx, list(paths), quiet)
    _summary(report)
    if report.failed and report.seen == 0:
        sys.exit(1)


@cli.command()
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True, help="Print the stored record as JSON.")
@click.pass_context
def show(ctx: click.Context, article_id: str, as_json: bool) -> None:
    """Show one stored article (a unique id prefix is enough)."""
    with _open(ctx) as store:
        try:
            article = store.get_article(article_id)
        except MarsadError as exc:
            raise click.ClickException(str(exc)) from exc
        linked = {a.id: a.title for a in store.get_articles(article.read_also)}
        record = article_to_record(article, [linked.get(i, i) for i in article.read_also])
        cited_by = [link.from_id for link in store.links_to(article.id)]
    if as_json:
        click.echo(json.dumps(record, ensure_ascii=False, indent=2))
        return
    _print_record(record)
    click.echo(f"  origin: {record['origin']}")
    if record["url"]:
        click.echo(f"  url: {record['url']}")
    for other in cited_by:
        click.echo(f"  listed as read-also by: {other}")


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def stats(ctx: click.Context, as_json: bool) -> None:
    """Counts of what the database holds."""
    with _open(ctx) as store:
        summary = store.stats()
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
        return
    by_source = summary.pop("by_source")
    for key, value in summary.items():
        click.echo(f"{key:>20}: {value}")
    click.echo(f"{'by source':>20}:")
    for name, count in by_source.items():
        click.echo(f"{count:>20}  {name or '(unknown)'}")


@cli.command()
@click.option("--format", "fmt", type=click.Choice(["jsonl", "parquet"]), default="jsonl", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="File to write (JSONL defaults to standard output; Parquet needs a file).")
@click.pass_context
def export(ctx: click.Context, fmt: str, output: str | None) -> None:
    """Export every stored article as JSONL or Parquet."""
    if fmt == "parquet" and not output:
        raise click.UsageError("--format parquet needs -o FILE")
    with _open(ctx) as store:

        def records():
            for article in store.iter_articles():
                titles = [a.title for a in store.get_articles(article.read_also)] if article.read_also else []
                yield article_to_record(article, titles)

        if fmt == "parquet":
            count = write_parquet(records(), output)
        elif output:
            with open(output, "w", encoding="utf-8") as out:
                count = write_jsonl(records(), out)
        else:
            count = write_jsonl(records(), sys.stdout)
    click.echo(f"exported {count} article(s)", err=True)


def sample_inputs() -> list[str]:
    """Paths of the sample corpus bundled with marsad (for `marsad demo`)."""
    folder = resources.files("marsad").joinpath("sample")
    return sorted(str(Path(str(folder)) / entry.name) for entry in folder.iterdir()
                  if entry.name.endswith((".jsonl.gz", ".txt")))


@cli.command()
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def demo(ctx: click.Context, quiet: bool) -> None:
    """Ingest the bundled sample of real Arabic articles and show what was stored."""
    click.echo(f"Ingesting the bundled sample into {ctx.obj['db']} ...", err=True)
    report = _run_ingest(ctx, sample_inputs(), quiet)
    _summary(report)
    ctx.invoke(stats)
    with _open(ctx) as store:
        click.echo("\nLatest articles:")
        rows = store.conn.execute(
            "SELECT id, source, published_at, title FROM articles ORDER BY published_at DESC LIMIT 8"
        ).fetchall()
    for row in rows:
        click.echo(f"  {row['id'][:10]}  {row['published_at'] or '':20}  {row['source'] or '':12}  {row['title']}")
    click.echo("\nTry: marsad show ID   |   marsad export | head -1", err=True)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="marsad")


if __name__ == "__main__":
    main()
