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


def _stage_times(seconds: dict[str, float]) -> None:
    stages = ", ".join(f"{stage} {secs:.1f}s" for stage, secs in seconds.items() if secs >= 0.05)
    click.echo(f"time by stage: {stages or 'under 0.1s'}", err=True)


def _summary(report: IngestReport) -> None:
    click.echo(
        f"{report.files} file(s): {report.new} new, {report.updated} updated, "
        f"{report.unchanged} unchanged, {len(report.failed)} failed"
        + (f", {len(report.skipped)} skipped as empty" if report.skipped else ""), err=True,
    )
    if report.seen:
        _stage_times(report.seconds)
    for where, reason in report.failed[:50]:
        click.echo(f"  failed: {where}: {reason}", err=True)
    if len(report.failed) > 50:
        click.echo(f"  ... and {len(report.failed) - 50} more failures", err=True)


def _run_ingest(ctx: click.Context, paths: list[str], quiet: bool, enrich: bool = True,
                stories: bool = True) -> IngestReport:
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
        report = ingest(store, paths, enrich=enrich, stories=stories, on_start=on_start, on_item=on_item)
    if bar is not None:
        bar.close()
    return report


@cli.command("ingest")
@click.argument("paths", nargs=-1, required=True)
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--entities/--no-entities", default=True, show_default=True,
              help="Tag people, places and organisations while storing (`marsad enrich` does it later).")
@click.option("--stories/--no-stories", default=True, show_default=True,
              help="Find copies and stories while storing (else the next ingest that does, or "
                   "`marsad restory`, catches up).")
@click.pass_context
def ingest_cmd(ctx: click.Context, paths: tuple[str, ...], quiet: bool, entities: bool, stories: bool) -> None:
    """Store text pages and JSONL dumps (files, folders, globs); re-running adds nothing twice."""
    report = _run_ingest(ctx, list(paths), quiet, enrich=entities, stories=stories)
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


# -- sources and crawling: thin edges over marsad.ingest.sources and marsad.ingest.crawl ------------


def _fetch_options(func):
    """Politeness and safety options shared by the commands that fetch."""
    options = [
        click.option("--delay", type=float, default=None, metavar="SECONDS",
                     help="Minimum seconds between two requests to one host (default 1; robots.txt "
                          "Crawl-delay raises it)."),
        click.option("--concurrency", type=int, default=None, help="Requests in flight, all hosts (default 32)."),
        click.option("--per-host", type=int, default=None, help="Requests in flight per host (default 2)."),
        click.option("--timeout", type=float, default=None, metavar="SECONDS",
                     help="Total time for one request (default 60)."),
        click.option("--allow-private-networks", is_flag=True, default=False,
                     help="Allow fetching loopback/private addresses (as MARSAD_ALLOW_PRIVATE_NETWORKS=1)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _fetch_settings(delay=None, concurrency=None, per_host=None, timeout=None, allow_private_networks=False):
    from .ingest.fetch import FetchSettings

    return FetchSettings.from_env(per_host_delay=delay, concurrency=concurrency, per_host_concurrency=per_host,
                                  total_timeout=timeout, network=True if allow_private_networks else None)


def _crawl_settings(fetch_settings, **overrides):
    from .ingest.crawl import CrawlSettings

    return CrawlSettings(fetch=fetch_settings, **{k: v for k, v in overrides.items() if v is not None})


@cli.group()
def sources() -> None:
    """Outlets to collect from: add, list, remove, disable, import/export OPML."""


@sources.command("add")
@click.argument("url")
@click.option("--name", default=None, help="Name to store the outlet under (default: what the site calls itself).")
@click.option("--language", default=None, help="Language code (default: detected).")
@click.option("--country", default=None, help="ISO 3166-1 alpha-2 country code.")
@click.option("--no-discover", is_flag=True, help="Register URL as the feed itself, without fetching anything.")
@_fetch_options
@click.pass_context
def sources_add(ctx, url, name, language, country, no_discover, **fetch) -> None:
    """Register an outlet by its feed URL or its homepage (feeds are discovered)."""
    from .ingest.sources import add_source

    with _open(ctx) as store:
        try:
            result = add_source(store, url, name=name, language=language, country=country,
                                settings=_fetch_settings(**fetch), discover_feeds=not no_discover)
        except MarsadError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"{result.source.name}: {len(result.added_feeds)} feed(s) added")
    for feed in result.added_feeds:
        click.echo(f"  + {feed.kind}: {feed.url}" + (f"  ({feed.entries} entries)" if feed.entries else ""))
    for line in result.existing_feeds:
        click.echo(f"  = {line}")


@sources.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def sources_list(ctx, as_json: bool) -> None:
    """Registered outlets with their feeds and crawl state."""
    from .ingest.sources import list_sources

    with _open(ctx) as store:
        rows = list_sources(store)
    if as_json:
        click.echo(json.dumps([{
            "name": r.source.name, "homepage": r.source.homepage, "language": r.source.language,
            "country": r.source.country, "disabled": r.disabled, "articles": r.articles, "pending": r.pending,
            "feeds": [{"url": f.url, "kind": f.kind, "last_fetched": f.last_fetched and f.last_fetched.isoformat(),
                       "next_due": f.next_due and f.next_due.isoformat(), "interval_s": f.interval_s,
                       "errors": f.error_count, "last_error": f.last_error} for f in r.feeds],
        } for r in rows], ensure_ascii=False, indent=2))
        return
    for r in rows:
        flags = " [disabled]" if r.disabled else ""
        last = r.last_fetched.strftime("%Y-%m-%d %H:%M") if r.last_fetched else "never"
        click.echo(f"{r.source.name}{flags}  {r.source.homepage or ''}  {r.source.language or '-'}/"
                   f"{r.source.country or '-'}  articles: {r.articles}  queued: {r.pending}  last crawl: {last}")
        for f in r.feeds:
            health = f"  errors: {f.error_count} ({f.last_error_kind}: {f.last_error})" if f.error_count else ""
            click.echo(f"    {f.kind}: {f.url}  every {f.interval_s // 60} min{health}")


@sources.command("remove")
@click.argument("name")
@click.pass_context
def sources_remove(ctx, name: str) -> None:
    """Forget an outlet and its feeds (articles already stored stay)."""
    from .ingest.sources import remove_source

    with _open(ctx) as store:
        try:
            count = remove_source(store, name)
        except MarsadError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"removed {name} and {count} feed(s)")


@sources.command("disable")
@click.argument("name")
@click.option("--enable", is_flag=True, help="Resume crawling instead.")
@click.pass_context
def sources_disable(ctx, name: str, enable: bool) -> None:
    """Stop crawling an outlet (or resume it with --enable)."""
    from .ingest.sources import disable_source

    with _open(ctx) as store:
        try:
            resolved = disable_source(store, name, disabled=not enable)
        except MarsadError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"{resolved}: {'enabled' if enable else 'disabled'}")


@sources.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--allow-private-networks", is_flag=True, default=False, hidden=True)
@click.pass_context
def sources_import(ctx, path: str, allow_private_networks: bool) -> None:
    """Register every feed of an OPML file."""
    from .ingest.sources import import_opml

    with _open(ctx) as store:
        try:
            report = import_opml(store, path, settings=_fetch_settings(allow_private_networks=allow_private_networks))
        except MarsadError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"imported {report.feeds} feed(s) of {report.sources} source(s); {len(report.skipped)} skipped")
    for url, reason in report.skipped:
        click.echo(f"  skipped {url}: {reason}", err=True)


@sources.command("export")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), default=None)
@click.pass_context
def sources_export(ctx, output: str | None) -> None:
    """Write every outlet and feed as OPML (to standard output by default)."""
    from .ingest.sources import export_opml

    with _open(ctx) as store:
        text = export_opml(store)
    if output:
        Path(output).write_text(text, encoding="utf-8")
    else:
        click.echo(text, nl=False)


class _CrawlProgress:
    """A tqdm bar for feeds, then one for pages (on standard error)."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.bar = None

    def __call__(self, event: str, **info) -> None:
        from tqdm import tqdm

        if event in ("feeds", "pages"):
            if self.bar is not None:
                self.bar.close()
            self.bar = tqdm(total=info["total"], desc=event, unit=event[:-1], file=sys.stderr,
                            disable=True if self.quiet else None)
        elif self.bar is not None:
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _crawl_summary(report) -> None:
    click.echo(report.summary(), err=True)
    for url, kind, message in report.failures[:20]:
        click.echo(f"  {kind}: {url}: {message}", err=True)
    if len(report.failures) > 20:
        click.echo(f"  ... and {len(report.failures) - 20} more", err=True)


@cli.command("crawl")
@click.option("--source", "source_names", multiple=True, help="Only this outlet (repeatable).")
@click.option("--all", "all_feeds", is_flag=True, help="Poll every feed now, not only those due.")
@click.option("--no-pages", is_flag=True, help="Store articles from the feeds' own fields, fetching no pages.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@_fetch_options
@click.pass_context
def crawl_cmd(ctx, source_names, all_feeds, no_pages, quiet, **fetch) -> None:
    """One pass over every due feed and queued entry; Ctrl-C stops cleanly, nothing is lost."""
    from .ingest.crawl import crawl

    progress = _CrawlProgress(quiet)
    with _open(ctx) as store:
        try:
            report = crawl(store, _crawl_settings(_fetch_settings(**fetch), fetch_pages=not no_pages),
                           sources=source_names, all_feeds=all_feeds, progress=progress)
        except MarsadError as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            progress.close()
    _crawl_summary(report)
    if report.feeds and report.feeds_failed == report.feeds and not report.pages:
        sys.exit(1)


@cli.command("watch")
@click.option("--source", "source_names", multiple=True, help="Only this outlet (repeatable).")
@click.option("--max-sleep", type=float, default=60.0, show_default=True,
              help="Longest pause between passes, in seconds.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@_fetch_options
@click.pass_context
def watch_cmd(ctx, source_names, max_sleep, quiet, **fetch) -> None:
    """Keep crawling, each feed as often as it publishes, until Ctrl-C or SIGTERM."""
    from .ingest.crawl import watch

    progress = _CrawlProgress(quiet)

    def on_pass(report) -> None:
        progress.close()
        _crawl_summary(report)

    with _open(ctx) as store:
        passes = watch(store, _crawl_settings(_fetch_settings(**fetch)), sources=source_names, progress=progress,
                       on_pass=on_pass, max_sleep=max_sleep)
    click.echo(f"stopped after {passes} pass(es)", err=True)


@cli.command("reparse")
@click.option("--source", "source_names", multiple=True, help="Only this outlet (repeatable).")
@click.pass_context
def reparse_cmd(ctx, source_names) -> None:
    """Re-extract every kept raw page with the current extractor (article ids stay the same)."""
    from .ingest.crawl import reparse

    with _open(ctx) as store:
        report = reparse(store, sources=source_names)
    click.echo(f"{report.pages} page(s): {report.new} new, {report.updated} updated, {report.unchanged} unchanged, "
               f"{len(report.failed)} failed", err=True)
    for url, reason in report.failed[:20]:
        click.echo(f"  failed: {url}: {reason}", err=True)


@cli.command("ner-tag")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--model", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A CRF model file instead of the shipped one.")
@click.option("--sentence-level", is_flag=True,
              help="Tag each sentence on its own (no label consistency across a document's sentences).")
def ner_tag(file: str, model: str | None, sentence_level: bool) -> None:
    """Tag a one-token-a-line file (blank line between sentences) and print `token TAG` lines.

    A name is tagged consistently across its document: the sentences between -DOCSTART- lines,
    at most 50 either side of each sentence.
    """
    from .enrich.ner import Tagger, default_tagger, read_conll, write_conll

    tagger = Tagger(model) if model else default_tagger()
    sentences = [tokens for tokens, _ in read_conll(file)]
    write_conll(zip(sentences, tagger.tag_conll_sentences(sentences, consistent=not sentence_level)), sys.stdout)


@cli.command()
@click.option("--all", "everything", is_flag=True, help="Redo every article, not only those that need it.")
@click.option("--limit", type=int, default=None, help="At most this many articles.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.pass_context
def enrich(ctx: click.Context, everything: bool, limit: int | None, quiet: bool) -> None:
    """Find entities, places and tags in stored articles that lack them (ingest does new ones itself)."""
    from tqdm import tqdm

    from .enrich import enrich_store

    with _open(ctx) as store:
        bar = tqdm(unit="article", desc="enrich", disable=True if quiet else None, file=sys.stderr)

        def on_batch(done: int, total: int) -> None:
            bar.total = total
            bar.update(done - bar.n)

        count = enrich_store(store, everything=everything, limit=limit, on_batch=on_batch)
        bar.close()
    click.echo(f"enriched {count} article(s)", err=True)


@cli.command()
@click.argument("entity_id", type=int, required=False)
@click.option("--type", "kind", type=click.Choice(["PERS", "LOC", "ORG", "MISC"]), default=None)
@click.option("--country", default=None, metavar="ISO", help="Places in this country (e.g. YE).")
@click.option("--name", default=None, help="Entities this name refers to (any spelling or alias).")
@click.option("--article", "article_id", default=None, help="The entities of one stored article.")
@click.option("--limit", type=int, default=30, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def entities(ctx: click.Context, entity_id: int | None, kind: str | None, country: str | None, name: str | None,
             article_id: str | None, limit: int, as_json: bool) -> None:
    """List the most named entities, show one (ENTITY_ID), or the entities of an article (--article)."""
    import dataclasses

    from . import enrich as enrichment

    with _open(ctx) as store:
        try:
            if article_id:
                result = enrichment.entities_for_article(store, article_id)
            elif entity_id is not None:
                result = enrichment.entity_detail(store, entity_id, limit=limit)
            elif name:
                result = enrichment.find_entities(store, name, type=kind)
            else:
                result = enrichment.list_entities(store, type=kind, country=country, limit=limit)
        except MarsadError as exc:
            raise click.ClickException(str(exc)) from exc
    if as_json:
        data = [dataclasses.asdict(r) for r in result] if isinstance(result, list) else dataclasses.asdict(result)
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if isinstance(result, list):
        for e in result:
            place = f"  [{e.place_kind} {e.country} {e.latitude},{e.longitude}]" if e.place_kind else ""
            click.echo(f"{e.id:>7}  {e.type:<4}  {e.articles:>5} art  {e.mentions:>6} men  {e.name}{place}")
    elif article_id:
        for entity, kind_, entity_name, count in result.entities:
            click.echo(f"{entity:>7}  {kind_:<4}  x{count}  {entity_name}")
        if result.auto_tags:
            click.echo("suggested tags: " + " | ".join(result.auto_tags))
        for tag, entity in result.tag_entities.items():
            click.echo(f"tag {tag} -> entity {entity}")
    else:
        e = result.entity
        click.secho(f"{e.name}  ({e.type}, {e.articles} articles, {e.mentions} mentions)", bold=True)
        if e.place_kind:
            click.echo(f"  place: {e.place_kind} {e.place_id} in {e.country} at {e.latitude}, {e.longitude}")
        click.echo("  spellings: " + " | ".join(f"{t} ({n})" for t, n in result.spellings))
        click.echo("  outlets: " + " | ".join(f"{s or '?'} ({n})" for s, n in result.outlets))
        click.echo("  with: " + " | ".join(f"{o.name} ({n})" for o, n in result.cooccurring[:10]))
        click.echo("  timeline: " + " ".join(f"{d}:{n}" for d, n in result.timeline[-14:]))
        click.echo("  latest: " + " ".join(a[:10] for a in result.articles[:10]))


@cli.command("train-ner")
@click.option("--stage", type=click.Choice(["all", "corpus", "clusters", "gazetteer", "crf", "bilstm"]), default="all",
              show_default=True)
@click.option("--data", type=click.Path(exists=True, file_okay=False), default=None,
              help="The shared data folder (default: $MARSAD_SHARED_DATA or ../shared/data).")
def train_ner(stage: str, data: str | None) -> None:
    """Retrain the shipped NER model and its data files (needs the `train` extra; about 10 minutes)."""
    import os

    from .enrich import training

    folder = Path(data or os.environ.get("MARSAD_SHARED_DATA") or Path.cwd().parent / "shared" / "data")
    scores = training.run(training.STAGES if stage == "all" else [stage], folder)
    if scores:
        click.echo(json.dumps(scores, indent=2))



@cli.command("search")
@click.argument("query")
@click.option("-n", "--limit", default=10, show_default=True, help="Results per page.")
@click.option("--page", default=1, show_default=True, help="Page number (from 1).")
@click.option("--sort", type=click.Choice(["relevance", "date", "recent"]), default="relevance", show_default=True,
              help="relevance: BM25, title weighted; date: newest first; recent: BM25 scaled by freshness.")
@click.option("--facets", is_flag=True, help="Also count results by source, tag, month, entity and country.")
@click.option("--json", "as_json", is_flag=True, help="Print results as JSON.")
@click.pass_context
def search_cmd(ctx: click.Context, query: str, limit: int, page: int, sort: str, facets: bool, as_json: bool) -> None:
    """Search stored articles: words, "phrases", OR, -word, prefix*, source: tag: from: to: lang:."""
    from .search import search

    with _open(ctx) as store:
        try:
            results = search(store, query, limit=limit, offset=max(page - 1, 0) * limit, sort=sort, facets=facets)
        except MarsadError as exc:
            raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(results.to_dict(), ensure_ascii=False, indent=2))
        return
    shown = f"{results.offset + 1}-{results.offset + len(results.hits)}" if results.hits else "0"
    note = " (no article has every word; showing articles with some of them)" if results.relaxed else ""
    count = f"{results.total}" if results.total_exact else f"more than {results.total}"
    click.echo(f"{count} result(s), showing {shown}, {results.took_ms:.0f} ms{note}", err=True)
    for hit in results.hits:
        when = hit.published_at.strftime("%Y-%m-%d") if hit.published_at else ""
        click.secho(hit.title, bold=True)
        click.echo(f"  {hit.id[:10]}  {when}  {hit.source or ''}  score {hit.score:.2f}")
        click.echo("  " + _marked(hit.snippet))
        click.echo()
    if results.facets:
        for name, counts in (("source", results.facets.source), ("month", results.facets.month),
                             ("tag", results.facets.tag)):
            if counts:
                click.echo(f"{name}: " + ", ".join(f"{k} ({n})" for k, n in counts))
        if results.facets.entity:  # entity:#id narrows to one of them
            click.echo("entity: " + ", ".join(f"{name} [{kind} #{i}] ({n})"
                                              for kind, i, name, n in results.facets.entity))
        if results.facets.place:
            click.echo("country: " + ", ".join(f"{k} ({n})" for k, n in results.facets.place))


def _marked(snippet_html: str) -> str:
    """A snippet for the terminal: matched words in bold (click drops the styling when piped)."""
    import html

    parts = snippet_html.replace("</mark>", "<mark>").split("<mark>")
    return "".join(click.style(html.unescape(p), bold=True) if i % 2 else html.unescape(p)
                   for i, p in enumerate(parts))


@cli.command()
@click.option("--workers", default=1, show_default=True, help="Processes analysing text while one writes.")
@click.pass_context
def reindex(ctx: click.Context, workers: int) -> None:
    """Rebuild the full-text search index from the stored articles."""
    with _open(ctx) as store:
        report = store.reindex(workers=workers)
    click.echo(f"indexed {report['articles']} article(s) in {report['seconds']} s "
               f"({report['rate']:.0f}/s, analyzer {report['analyzer']})", err=True)

@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", type=int, default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes (each opens its own database connections).")
@click.option("--admin-token", envvar="MARSAD_ADMIN_TOKEN", default=None,
              help="Token that opens /admin (default: $MARSAD_ADMIN_TOKEN; the admin page is off without one).")
@click.option("--api-key", envvar="MARSAD_API_KEY", default=None,
              help="Require this key on /api/v1 requests (default: $MARSAD_API_KEY; open without one).")
@click.option("--public-url", envvar="MARSAD_PUBLIC_URL", default=None,
              help="Absolute base URL for links in feeds (default: the request's own).")
@click.option("--log-level", type=click.Choice(["critical", "error", "warning", "info", "debug"]), default="info",
              show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int, admin_token: str | None, api_key: str | None,
          public_url: str | None, log_level: str) -> None:
    """Serve the web reader, the JSON API (/api/v1, docs at /docs) and RSS/Atom feeds."""
    try:
        from .web import WebSettings
        from .web.server import serve as run_server
    except ImportError as exc:
        raise click.ClickException(f"the web server needs its dependencies ({exc}); run: pip install marsad") from exc
    settings = WebSettings.from_env(db=ctx.obj["db"], admin_token=admin_token, api_key=api_key,
                                    public_url=public_url)
    try:
        run_server(settings, host=host, port=port, workers=workers, log_level=log_level,
                   announce=lambda line: click.secho(line, bold=True, err=True))
    except MarsadError as exc:
        raise click.ClickException(str(exc)) from exc


@cli.command("backfill")
@click.argument("inputs", nargs=-1, required=True)
@click.option("--scheduler", default=None, help="Dask scheduler address (tcp://HOST:8786); default: a local cluster.")
@click.option("--workers", type=click.IntRange(1, 256), default=2, show_default=True,
              help="Worker processes of the local cluster (ignored with --scheduler).")
@click.option("--parquet", "parquet_dir", type=click.Path(file_okay=False), default=None,
              help="Also write each partition to PARQUET/part-KEY.parquet.")
@click.option("--state", "state_dir", type=click.Path(file_okay=False), default=None,
              help="Folder marking finished partitions (default: PARQUET/_done, else .marsad-backfill/).")
@click.option("--split", "records_per_partition", type=click.IntRange(1), default=None, metavar="N",
              help="Cut JSONL files of more than N records into partitions of N (one large dump spreads out).")
@click.option("--entities/--no-entities", default=True, show_default=True,
              help="Tag people, places and organisations (on the workers; `marsad enrich` does it later).")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
@click.pass_context
def backfill_command(ctx: click.Context, inputs: tuple[str, ...], scheduler: str | None, workers: int,
                     parquet_dir: str | None, state_dir: str | None, records_per_partition: int | None,
                     entities: bool, quiet: bool) -> None:
    """Ingest large archives (sharded JSONL(.gz), folders of pages, WARC files) in parallel partitions on Dask,
    finding near duplicates across partitions."""
    from .backfill import backfill

    def progress(done: int, total: int) -> None:
        if not quiet:
            click.echo(f"\rpartitions: {done}/{total}   ", nl=False, err=True)

    try:
        report = backfill(list(inputs), ctx.obj["db"], scheduler=scheduler, workers=workers,
                          parquet_dir=parquet_dir, state_dir=state_dir, on_progress=progress,
                          records_per_partition=records_per_partition, enrich=entities)
    except MarsadError as exc:
        raise click.ClickException(str(exc)) from exc
    if not quiet:
        click.echo("", err=True)
    click.echo(f"{report.partitions} partition(s), {report.skipped} already done: {report.new} new, "
               f"{report.updated} updated, {report.unchanged} unchanged, "
               f"{report.duplicates} duplicate(s) in {len(report.duplicate_groups)} group(s) in {report.seconds:.1f}s")
    if report.stage_seconds:
        _stage_times(report.stage_seconds)
    if report.story_articles:
        click.echo(f"stories: {report.story_articles} article(s) placed, {report.stories} new")
    if report.enriched:
        click.echo(f"entities: {report.enriched} article(s) enriched")
    for where, reason in report.failed[:20]:
        click.echo(f"  failed: {where}: {reason}", err=True)
    if report.failed:
        ctx.exit(1)


@cli.command("migrate")
@click.option("--from", "source", required=True, help="Database to copy from (path, sqlite:///PATH or postgresql://...).")
@click.option("--to", "target", required=True, help="Empty database to copy into.")
@click.option("-q", "--quiet", is_flag=True, help="No progress lines.")
def migrate_command(source: str, target: str, quiet: bool) -> None:
    """Copy a whole marsad database to another backend, then verify counts and checksums per table."""
    from .migrate import migrate

    def progress(table: str, done: int) -> None:
        if not quiet:
            click.echo(f"\r{table}: {done}   ", nl=False, err=True)

    try:
        report = migrate(source, target, on_progress=progress)
    except MarsadError as exc:
        raise click.ClickException(str(exc)) from exc
    if not quiet:
        click.echo("", err=True)
    for check in report.tables:
        mark = "ok" if check.ok else "MISMATCH"
        click.echo(f"{check.table:16} {check.source_rows:>10} -> {check.target_rows:<10} {mark}")
    if not report.ok:
        raise click.ClickException("verification failed: the copy differs from the original (see MISMATCH above)")
    click.echo(f"verified: {report.source} -> {report.target} in {report.seconds:.1f}s", err=True)


# -- duplicates and stories: thin edges over marsad.dedup, marsad.stories and marsad.related ---------------


def _parse_since(value: str | None):
    from datetime import datetime, timezone

    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD or an ISO 8601 time)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _story_record(story) -> dict:
    return {
        "id": story.id, "title": story.title, "article_ids": story.article_ids, "outlets": story.outlets,
        "first_seen": story.first_seen.isoformat(), "last_seen": story.last_seen.isoformat(),
        "article_count": story.article_count, "growth": story.growth, "lead_article_id": story.lead_article_id,
    }


@cli.command("stories")
@click.argument("story_id", required=False)
@click.option("--since", default=None, metavar="DATE", help="Only stories seen at or after this date/time.")
@click.option("--order", type=click.Choice(["recent", "growing", "size"]), default="recent", show_default=True)
@click.option("-n", "--limit", type=int, default=20, show_default=True)
@click.option("--offset", type=int, default=0)
@click.option("--json", "as_json", is_flag=True, help="One JSON array (or object, with STORY_ID).")
@click.pass_context
def stories_cmd(ctx, story_id, since, order, limit, offset, as_json) -> None:
    """List stories (groups of articles about one event), or show one with STORY_ID."""
    from .stories import get_story, list_stories

    with _open(ctx) as store:
        try:
            if story_id:
                detail = get_story(store, story_id)
            else:
                found = list_stories(store, since=_parse_since(since), limit=limit, offset=offset, order=order)
        except MarsadError as exc:
            raise click.ClickException(str(exc)) from exc
    if story_id:
        record = _story_record(detail) | {
            "timeline": [[t.isoformat(), n] for t, n in detail.timeline], "copies": detail.copies,
            "articles": [{"id": a.id, "source": a.source, "published_at": a.published_at and a.published_at.isoformat(),
                          "title": a.title, "url": a.url} for a in detail.articles],
        }
        if as_json:
            click.echo(json.dumps(record, ensure_ascii=False, indent=2))
            return
        click.secho(detail.title, bold=True)
        click.echo(f"  {detail.id} · {detail.article_count} article(s) from {len(detail.outlets)} outlet(s) · "
                   f"{detail.first_seen:%Y-%m-%d %H:%M} – {detail.last_seen:%Y-%m-%d %H:%M}")
        copies_of = {c: k for k, cs in detail.copies.items() for c in cs}
        for a in detail.articles:
            mark = f"  (copy of {copies_of[a.id][:10]})" if a.id in copies_of else ""
            when = a.published_at.strftime("%Y-%m-%d %H:%M") if a.published_at else ""
            click.echo(f"  {a.id[:10]}  {when:16}  {a.source or '':12}  {a.title}{mark}")
        return
    if as_json:
        click.echo(json.dumps([_story_record(s) for s in found], ensure_ascii=False, indent=2))
        return
    for s in found:
        click.echo(f"{s.id[:12]}  {s.last_seen:%Y-%m-%d %H:%M}  {s.article_count:>3} art. {len(s.outlets):>2} outl."
                   f"  {s.growth:>5.2f}/h  {s.title}")


@cli.command("duplicates")
@click.argument("article_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def duplicates_cmd(ctx, article_id: str, as_json: bool) -> None:
    """Where else an article's text was published: every outlet, URL and time, the original first."""
    from .dedup import duplicates_of

    with _open(ctx) as store:
        try:
            group = duplicates_of(store, article_id)
        except MarsadError as exc:
            raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps({"canonical_id": group.canonical_id, "members": [
            {"article_id": m.article_id, "source": m.source, "url": m.url, "kind": m.kind, "score": m.score,
             "published_at": m.published_at and m.published_at.isoformat()} for m in group.members]},
            ensure_ascii=False, indent=2))
        return
    click.echo(f"نُشر في {len(group.outlets)} مصادر / published by {len(group.outlets)} outlet(s), "
               f"{len(group.members)} copie(s); canonical {group.canonical_id}")
    for m in group.members:
        when = m.published_at.strftime("%Y-%m-%d %H:%M") if m.published_at else "?"
        how = f"{m.kind} {m.score:.2f}" if m.kind else "original"
        click.echo(f"  {m.article_id[:10]}  {when:16}  {m.source or '':12}  {how:11}  {m.url or ''}")


@cli.command("related")
@click.argument("article_id")
@click.option("-n", "--limit", type=int, default=10, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def related_cmd(ctx, article_id: str, limit: int, as_json: bool) -> None:
    """Articles related to one: its story first, then similar stories, then its page's read-also links."""
    from .related import related_articles

    with _open(ctx) as store:
        try:
            found = related_articles(store, article_id, limit=limit)
        except MarsadError as exc:
            raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps([{"id": r.article.id, "kind": r.kind, "score": r.score, "title": r.article.title,
                                "source": r.article.source} for r in found], ensure_ascii=False, indent=2))
        return
    for r in found:
        click.echo(f"  {r.kind:10}  {r.score:4.2f}  {r.article.id[:10]}  {r.article.source or '':12}  {r.article.title}")


@cli.command("restory")
@click.pass_context
def restory_cmd(ctx) -> None:
    """Recompute every duplicate group and story from the stored articles (after changing the rules)."""
    from .stories import restory

    with _open(ctx) as store:
        report = restory(store)
    click.echo(f"{report.articles} article(s): {report.exact} exact and {report.near} near copies, "
               f"{report.new_stories} stories ({report.merges} merges) in {report.seconds:.1f}s "
               f"({report.rate:.0f} articles/s); duplicate index in memory {report.memory_bytes / 2**20:.0f} MiB",
               err=True)


def sample_inputs() -> list[str]:
    """Paths of the sample corpus bundled with marsad (for `marsad demo`)."""
    folder = resources.files("marsad").joinpath("sample")
    return sorted(str(Path(str(folder)) / entry.name) for entry in folder.iterdir()
                  if entry.name.endswith((".jsonl.gz", ".txt")))


@cli.command()
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@click.option("--serve/--no-serve", "then_serve", default=True, show_default=True,
              help="Then open the web reader on 127.0.0.1 (see `marsad serve`).")
@click.option("--port", type=int, default=8000, show_default=True, help="Port for the web reader.")
@click.pass_context
def demo(ctx: click.Context, quiet: bool, then_serve: bool, port: int) -> None:
    """Ingest the bundled sample of real Arabic articles, show what was stored, then serve the reader."""
    click.echo(f"Ingesting the bundled sample into {ctx.obj['db']} ...", err=True)
    report = _run_ingest(ctx, sample_inputs(), quiet)
    _summary(report)
    with _open(ctx) as store:
        if not store.search_index_current():  # a demo database from an older marsad: small, so rebuild now
            click.echo("Rebuilding the search index for this version of marsad ...", err=True)
            store.reindex()
    ctx.invoke(stats)
    with _open(ctx) as store:
        click.echo("\nLatest articles:")
        rows = store.conn.execute(
            "SELECT id, source, published_at, title FROM articles ORDER BY published_at DESC LIMIT 8"
        ).fetchall()
    for row in rows:
        click.echo(f"  {row['id'][:10]}  {row['published_at'] or '':20}  {row['source'] or '':12}  {row['title']}")
    click.echo("\nTry: marsad show ID   |   marsad export | head -1", err=True)
    if then_serve:
        click.echo("", err=True)
        ctx.invoke(serve, port=port)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="marsad")


if __name__ == "__main__":
    main()
