from django.db import migrations

from miantan.archive.locks import install_first, remove_first


class Migration(migrations.Migration):
    dependencies = [("archive", "0001_initial")]

    operations = [migrations.RunPython(install_first, remove_first)]
