"""Background work for the people app: ids in, fetch, call a service."""

from __future__ import annotations

from django_tasks import task

from .importing import run_org_import, take_back_stalled_org_imports
from .models import OrgImport


@task()
def run_org_import_task(import_id: int) -> str:
    """Check and apply one uploaded organisation file; returns the import's final status.

    A worker first takes back imports whose own worker stopped (their lease ran out)."""
    take_back_stalled_org_imports()
    org_import = OrgImport.objects.select_related("organisation", "uploaded_by").get(pk=import_id)
    return run_org_import(org_import).status
