from django.db import migrations

from miantan.archive.locks import install, remove


class Migration(migrations.Migration):
    dependencies = [("archive", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
