"""The content the roles govern: platforms and the ROM entries filed under them."""

from django.contrib.auth.models import Group
from django.db import models
from django.urls import reverse


class Platform(models.Model):
    """A console or computer, e.g. "Super Nintendo" with slug ``snes``."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=50, unique=True, help_text="Short name used in links, e.g. snes.")
    # Who may see it: library/visibility.py reads this, and nothing else should.
    groups = models.ManyToManyField(
        Group,
        through="PlatformGroup",
        blank=True,
        related_name="platforms",
        help_text="Only members of these groups (and administrators) see this platform and its ROMs. "
        "None: everyone who may read the library sees it.",
    )
    # RomM's platform schema carries both; apps ask for platforms changed since a moment.
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class PlatformGroup(models.Model):
    """A platform restricted to a group: one row of ``Platform.groups``.

    Deleting a group that still restricts a platform is refused (``ProtectedError``; the admin's
    delete page lists the platforms): were the row deleted with the group, a platform restricted
    to that group alone would have no group left, and be seen by everyone. Deleting the platform
    takes its rows along.
    """

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE)
    group = models.ForeignKey(Group, on_delete=models.PROTECT)

    class Meta:
        db_table = "library_platform_groups"  # the table Django made for the relation before this model
        verbose_name = "platform restriction"
        constraints = [
            models.UniqueConstraint(fields=["platform", "group"], name="library_platform_group_unique"),
        ]

    def __str__(self):
        return f"{self.platform} restricted to {self.group}"


class Rom(models.Model):
    """One ROM file in the library."""

    name = models.CharField(max_length=200)
    platform = models.ForeignKey(Platform, on_delete=models.PROTECT, related_name="roms")
    file_name = models.CharField(max_length=255)
    size_bytes = models.PositiveBigIntegerField("size (bytes)", null=True, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        verbose_name = "ROM"
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "file_name"],
                name="library_rom_file_unique",
                violation_error_message="This platform already has a ROM with this file name.",
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.platform})"

    def get_absolute_url(self):
        return reverse("library:rom_detail", args=[self.pk])
