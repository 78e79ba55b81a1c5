"""Background work for the metrics app: ids in, fetch, call a service."""

from __future__ import annotations

from django_tasks import task

from .models import MetricsImport
from .uploads import run_metrics_import, take_back_stalled_metrics_imports


@task()
def run_metrics_import_task(import_id: int) -> str:
    """Check and import one uploaded KPI file; returns the import's final status.

    A worker first takes back imports whose own worker stopped (their lease ran out)."""
    take_back_stalled_metrics_imports()
    metrics_import = MetricsImport.objects.select_related("organisation", "uploaded_by").get(
        pk=import_id
    )
    return run_metrics_import(metrics_import).status
