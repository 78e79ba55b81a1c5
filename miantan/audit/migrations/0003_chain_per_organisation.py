"""One audit chain per organisation, and a global chain for events without one.

Nothing is re-chained or re-signed. The single chain written so far becomes the global chain
(chain 0) as it is: every existing event, checkpoint and the head row get `chain = 0` from the
column default, which PostgreSQL applies without rewriting the table. The global chain's
events sign the same fields as before (`audit.hashing.event_fields` adds the chain only for an
organisation's chain) and its checkpoints keep the name "audit", so the existing hashes and
the checkpoint lines already copied off the machine still verify. New events of an
organisation start its own chain at #1.

Sequence numbers become unique per chain instead of overall.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_keyed_chain_and_checkpoints"),
    ]

    operations = [
        # The data step: the existing single chain is the global chain (0).
        migrations.AddField(
            model_name="auditevent",
            name="chain",
            field=models.BigIntegerField(default=0, verbose_name="chain"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditchainhead",
            name="chain",
            field=models.BigIntegerField(default=0, unique=True, verbose_name="chain"),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditcheckpoint",
            name="chain",
            field=models.BigIntegerField(default=0, verbose_name="chain"),
            preserve_default=False,
        ),
        # Sequence numbers per chain.
        migrations.AlterField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(verbose_name="sequence"),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(
                fields=("chain", "seq"), name="audit_event_chain_seq_uniq"
            ),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["chain", "id"], name="audit_chain_position_idx"),
        ),
        # Across chains, events are in the order of their primary key.
        migrations.RemoveIndex(
            model_name="auditevent",
            name="audit_subject_idx",
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(fields=["subject_id", "-id"], name="audit_subject_recent_idx"),
        ),
        migrations.AlterModelOptions(
            name="auditevent",
            options={
                "ordering": ["-pk"],
                "verbose_name": "audit event",
                "verbose_name_plural": "audit events",
            },
        ),
        migrations.AlterModelOptions(
            name="auditchainhead",
            options={"ordering": ["chain"], "verbose_name": "audit chain head"},
        ),
        migrations.AlterModelOptions(
            name="auditcheckpoint",
            options={
                "ordering": ["chain", "seq", "pk"],
                "verbose_name": "audit checkpoint",
                "verbose_name_plural": "audit checkpoints",
            },
        ),
        migrations.AddIndex(
            model_name="auditcheckpoint",
            index=models.Index(fields=["chain", "seq"], name="audit_checkpoint_chain_idx"),
        ),
    ]
