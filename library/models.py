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
