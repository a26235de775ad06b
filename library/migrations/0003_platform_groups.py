from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("library", "0002_platform_timestamps"),
    ]

    operations = [
        migrations.AddField(
            model_name="platform",
            name="groups",
            field=models.ManyToManyField(
                blank=True,
                help_text="Only members of these groups (and administrators) see this platform and its ROMs. "
                "None: everyone who may read the library sees it.",
                related_name="platforms",
                to="auth.group",
            ),
        ),
    ]
