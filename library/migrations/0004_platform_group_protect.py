"""Platform.groups gets its own through model, PlatformGroup, whose group is PROTECTed: deleting a
group that still restricts a platform is refused instead of opening the platform to everyone.

The model adopts the table Django made for the relation (library_platform_groups: id, platform_id,
group_id, unique together), so no row moves; only the unique pair is renamed to a named constraint.
"""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("library", "0003_platform_groups"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="PlatformGroup",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("platform", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, to="library.platform")),
                        ("group", models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, to="auth.group")),
                    ],
                    options={
                        "verbose_name": "platform restriction",
                        "db_table": "library_platform_groups",
                        "unique_together": {("platform", "group")},
                    },
                ),
                migrations.AlterField(
                    model_name="platform",
                    name="groups",
                    field=models.ManyToManyField(
                        blank=True,
                        help_text="Only members of these groups (and administrators) see this platform and its ROMs. "
                        "None: everyone who may read the library sees it.",
                        related_name="platforms",
                        through="library.PlatformGroup",
                        to="auth.group",
                    ),
                ),
            ],
        ),
        migrations.AlterUniqueTogether(name="platformgroup", unique_together=set()),
        migrations.AddConstraint(
            model_name="platformgroup",
            constraint=models.UniqueConstraint(fields=("platform", "group"), name="library_platform_group_unique"),
        ),
    ]
