"""The report as one self-contained HTML page with charts drawn by plotly.js (inlined:
the page opens offline). Needs the optional `report` extra (plotly).

Charts: backup duration and set size over time per job, the achieved RPO of each
schedule against its target, the data added to the repositories over the window, and
the RTO of each restore drill and recovery against the RTO target.
"""

from __future__ import annotations

import html
import json
from typing import Any

from orchestrator.errors import UsageError
from orchestrator.models import ReportResult

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }}
.chart {{ width: 100%; max-width: 1000px; height: 360px; }}
.bad {{ color: #b00; font-weight: bold; }}
</style>
<script>{plotly}</script>
</head><body>
<h1>{title}</h1>
<p>{window}</p>
{tables}
{charts}
<script>
const charts = {figures};
for (const [id, figure] of Object.entries(charts)) {{
  Plotly.newPlot(id, figure.data, figure.layout, {{responsive: true, displaylogo: false}});
}}
</script>
</body></html>
"""


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(item)}</th>" for item in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>"
                   for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _hours(value: float | None) -> str:
    return "-" if value is None else f"{value / 3600:.2f} h"


def _met(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else '<span class="bad">no</span>'


def _money(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def figures(result: ReportResult) -> dict[str, dict[str, Any]]:
    """The charts as plotly figure dicts, keyed by their element id."""
    jobs = sorted({point.job for point in result.history})
    by_job = {job: [point for point in result.history if point.job == job] for job in jobs}

    def series(field: str) -> list[dict[str, Any]]:
        return [{"type": "scatter", "mode": "lines+markers", "name": job,
                 "x": [point.started.isoformat() for point in points
                       if getattr(point, field) is not None],
                 "y": [getattr(point, field) for point in points
                       if getattr(point, field) is not None]}
                for job, points in by_job.items()]

    scheduled = [job for job in result.jobs if job.schedule]
    added, total = [], 0
    for point in sorted(result.history, key=lambda item: item.started):
        total += point.bytes_added or 0
        added.append((point.started.isoformat(), total))

    def layout(title: str, unit: str) -> dict[str, Any]:
        return {"title": {"text": title}, "yaxis": {"title": {"text": unit}},
                "margin": {"t": 50, "l": 70, "r": 20, "b": 50}}

    return {
        "duration": {"data": series("duration"),
                     "layout": layout("Backup duration", "seconds")},
        "size": {"data": series("bytes"), "layout": layout("Set size", "bytes")},
        "rpo": {"data": [
            {"type": "bar", "name": "achieved RPO",
             "x": [job.job for job in scheduled],
             "y": [(job.achieved_rpo_seconds or 0) / 3600 for job in scheduled]},
            {"type": "bar", "name": "target",
             "x": [job.job for job in scheduled],
             "y": [(job.rpo_seconds or 0) / 3600 for job in scheduled]}],
            "layout": {**layout("RPO per schedule", "hours"), "barmode": "group"}},
        "growth": {"data": [{"type": "scatter", "mode": "lines", "fill": "tozeroy",
                             "name": "data added", "x": [x for x, _ in added],
                             "y": [y for _, y in added]}],
                   "layout": layout("Repository growth (data added by runs)", "bytes")},
        "rto": {"data": [
            *({"type": "scatter", "mode": "markers", "name": f"{kind} ({label})",
               "x": [point.started.isoformat() for point in chosen],
               "y": [point.rto / 3600 for point in chosen]}
              for kind in ("drill", "recovery") for ok, label in ((True, "ok"),
                                                                  (False, "failed"))
              if (chosen := [point for point in result.restores
                             if point.kind == kind and point.ok == ok])),
            {"type": "scatter", "mode": "lines", "name": "target",
             "x": [result.since.isoformat(), result.until.isoformat()],
             "y": [result.rto_target_seconds / 3600] * 2}],
            "layout": layout("RTO of restore drills and recoveries", "hours")},
    }


def render_html(result: ReportResult) -> str:
    try:
        from plotly.offline import get_plotlyjs  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise UsageError("--format html draws its charts with plotly: "
                         "pip install 'strongroom[report]'") from None
    summary = _table(["metric", "value"], [
        ["runs", str(result.runs)],
        ["completion rate", _rate(result.completion_rate)],
        ["mean time to back up (MTTB)", _hours(result.mean_duration_seconds)],
        ["mean time to repair (MTTR)", _hours(result.mttr_seconds)],
        ["verification pass rate", _rate(result.verification_pass_rate)],
        ["restore drills", str(result.drills or "none recorded")],
        ["drill success rate", _rate(result.drill_success_rate)],
        ["recoveries", str(result.recoveries or "none recorded")],
        ["recovery success rate", _rate(result.recovery_success_rate)],
        ["restore success rate (drills and recoveries)", _rate(result.restore_success_rate)],
        ["RTO mean / slowest", f"{_hours(result.rto_mean_seconds)} / "
                               f"{_hours(result.rto_max_seconds)}"],
        ["RTO target", _hours(result.rto_target_seconds)],
        ["RTO met", _met(result.rto_met)],
        ["storage cost per month", _money(result.monthly_cost)]])
    jobs = _table(["job", "runs", "failed", "completion", "achieved RPO", "target", "met",
                   "retention"], [
        [html.escape(job.job), str(job.runs), str(job.failed), _rate(job.completion_rate),
         _hours(job.achieved_rpo_seconds), _hours(job.rpo_seconds),
         _met(job.rpo_met), html.escape(job.retention or "-")] for job in result.jobs])
    repositories = _table(["repository", "encrypted", "reachable", "stored", "source",
                           "efficiency", "verifications (passed)", "cost per month"], [
        [html.escape(repo.name), _met(repo.encrypted), _met(repo.reachable),
         _count(repo.stored_bytes), _count(repo.source_bytes),
         "-" if repo.efficiency is None else f"{repo.efficiency:.2f} x",
         f"{repo.verifications} ({repo.verifications_passed})", _money(repo.monthly_cost)]
        for repo in result.repositories])
    hosts = "" if not result.hosts else "<h2>Hosts (from the repository)</h2>" + _table(
        ["profile", "host", "sets", "complete", "completion", "achieved RPO", "met",
         "newest set", "drills (ok)"], [
            [html.escape(host.profile), html.escape(host.host or "-"), str(host.sets),
             str(host.complete_sets), _rate(host.completion_rate),
             _hours(host.achieved_rpo_seconds), _met(host.rpo_met),
             html.escape(host.newest_set or "-"), f"{host.drills} ({host.drills_ok})"]
            for host in result.hosts])
    findings = "".join(f"<li>{html.escape(item)}</li>" for item in result.findings) \
        or "<li>none</li>"
    charts = figures(result)
    # "</" inside the inline JSON must not end the script element.
    data = json.dumps(charts).replace("</", "<\\/")
    return PAGE.format(
        title=html.escape(f"Backup report: {result.profile} on {result.host}"),
        window=html.escape(f"{result.since:%Y-%m-%d %H:%M} to {result.until:%Y-%m-%d %H:%M}"),
        plotly=get_plotlyjs(),
        tables=summary + hosts + "<h2>Schedules and jobs</h2>" + jobs
        + "<h2>Repositories</h2>" + repositories
        + f"<h2>Compliance findings</h2><ul>{findings}</ul>",
        charts="".join(f'<div class="chart" id="{key}"></div>' for key in charts),
        figures=data)
