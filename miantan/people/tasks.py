"""Background work for the people app: ids in, fetch, call a service."""

from __future__ import annotations

from django_tasks import task

from .importing import run_org_import
from .models import OrgImport


@task()
def run_org_import_task(import_id: int) -> str:
    """Check and apply one uploaded organisation file; returns the import's final status."""
    org_import = OrgImport.objects.select_related("organisation", "uploaded_by").get(pk=import_id)
    return run_org_import(org_import).status
