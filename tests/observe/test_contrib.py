"""contrib/: the example alert rules and Grafana dashboard."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent


def test_contrib_alerts_and_dashboard_use_the_metrics() -> None:
    """The shipped alert rules and dashboard load and name only metrics strongroom makes."""
    import json
    import re

    import yaml  # type: ignore[import-untyped]

    root = ROOT / "contrib"
    rules = yaml.safe_load((root / "prometheus-alerts.yml").read_text())
    expressions = [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    dashboard = json.loads((root / "grafana-dashboard.json").read_text())
    expressions += [target["expr"] for panel in dashboard["panels"]
                    for target in panel.get("targets", [])]
    source = ROOT / "orchestrator/observe/metrics.py"
    known = set(re.findall(r"strongroom_[a-z_]+", source.read_text()))
    used = {name for expr in expressions for name in re.findall(r"strongroom_[a-z_]+", expr)}
    assert used and used <= known, used - known
