import re

from django import forms
from django.utils.text import slugify

from library.models import Platform, Rom
from library.visibility import visible_platforms


class LibraryForm(forms.ModelForm):
    """A change to the library made by ``user``, who may only use what they may see."""

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user


class RomForm(LibraryForm):
    class Meta:
        model = Rom
        fields = ["name", "platform", "file_name", "size_bytes", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 5})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # A platform hidden from the person is not a choice: naming it is the same mistake as
        # naming one that does not exist.
        self.fields["platform"].queryset = visible_platforms(self.user).order_by("name", "pk")


class PlatformForm(LibraryForm):
    slug = forms.SlugField(
        required=False, help_text="Short name used in links; made from the name when left empty."
    )

    class Meta:
        model = Platform
        fields = ["name", "slug"]

    def clean_slug(self):
        """The given slug, or one made from the name."""
        slug = self.cleaned_data.get("slug") or slugify(self.cleaned_data.get("name") or "")
        if not slug:
            raise forms.ValidationError("Give a short name using letters, numbers and hyphens.")
        return slug


class SearchForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Search")
    platform = forms.ModelChoiceField(
        Platform.objects.none(), required=False, empty_label="All platforms", to_field_name="slug"
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["platform"].queryset = visible_platforms(user).order_by("name", "pk")


MAX_ID = 2**63 - 1
# RomM's /api/roms allows pages of up to 10 000 (``CustomLimitOffsetParams`` in RomM's
# backend/endpoints/roms/__init__.py): apps page by 250 or 500, and romm-cli fetches 9999 at once.
MAX_LIMIT = 10_000
# RomM reads its query booleans as pydantic does.
TRUE_WORDS = {"1", "on", "t", "true", "y", "yes"}
FALSE_WORDS = {"0", "off", "f", "false", "n", "no"}
# RomM's ROM filters on facts this site does not keep (favourites, saves, metadata …).
UNTRACKED_FLAGS = (
    "matched", "favorite", "duplicate", "last_played", "playable", "missing", "has_ra", "has_saves",
    "has_states", "verified", "has_soundtrack",
)  # fmt: skip
UNTRACKED_LISTS = (
    "genres", "franchises", "collections", "companies", "age_ratings", "statuses", "regions",
    "languages", "player_counts", "metadata_providers", "tags",
)  # fmt: skip


class QueryBoolean(forms.Field):
    """A query-string boolean as RomM reads it (``true``/``false``, ``1``/``0``, ``yes``/``no``,
    ``on``/``off``, any case); None when absent, an error for anything else."""

    def to_python(self, value):
        if value in (None, ""):
            return None
        word = str(value).strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise forms.ValidationError("Expected true or false.", code="invalid")


class RepeatedField(forms.Field):
    """A parameter that may be repeated (``?platform_ids=1&platform_ids=2``): a list of ``item``'s values."""

    widget = forms.MultipleHiddenInput

    def __init__(self, item, **kwargs):
        super().__init__(required=False, **kwargs)
        self.item = item

    def to_python(self, value):
        return [self.item.clean(one) for one in (value or []) if one != ""]


class DateTimeWithZone(forms.DateTimeField):
    """An ISO 8601 moment; a zone's ``+`` that an unencoded query string turned into a space is
    read back as ``+``."""

    def to_python(self, value):
        if isinstance(value, str):
            value = re.sub(r"(\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$", r"\1+\2", value.strip())
        return super().to_python(value)  # without a zone: the site's TIME_ZONE


class RomQueryForm(forms.Form):
    """The query string of ``GET /api/roms``: RomM's parameters, and this site's ``platform_id``
    and ``search``. Parameters it does not know are ignored, as RomM ignores them."""

    # Upper bounds keep every value inside a 64-bit database integer (SQLite raises beyond it).
    platform_id = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    platform_ids = RepeatedField(forms.IntegerField(min_value=-MAX_ID, max_value=MAX_ID))
    search = forms.CharField(required=False, max_length=200)
    search_term = forms.CharField(required=False, max_length=500, strip=False)
    limit = forms.IntegerField(required=False, min_value=1, max_value=MAX_LIMIT)
    offset = forms.IntegerField(required=False, min_value=0, max_value=MAX_ID)
    order_by = forms.CharField(required=False, max_length=100)
    order_dir = forms.CharField(required=False, max_length=10)
    updated_after = DateTimeWithZone(
        required=False,
        error_messages={"invalid": "Expected an ISO 8601 date and time, e.g. 2026-01-31T12:00:00Z."},
    )
    with_char_index = QueryBoolean(required=False)
    with_filter_values = QueryBoolean(required=False)
    with_rom_id_index = QueryBoolean(required=False)
    with_total = QueryBoolean(required=False)
    with_files = QueryBoolean(required=False)
    group_by_meta_id = QueryBoolean(required=False)
    collection_id = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    smart_collection_id = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    virtual_collection_id = forms.CharField(required=False, max_length=200)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in UNTRACKED_FLAGS:
            self.fields[name] = QueryBoolean(required=False)
        for name in UNTRACKED_LISTS:
            self.fields[name] = RepeatedField(forms.CharField(max_length=200))
            self.fields[f"{name}_logic"] = forms.CharField(required=False, max_length=10)

    def clean(self):
        data = super().clean()
        # A boolean left out takes RomM's default.
        for name, default in (("with_char_index", True), ("with_filter_values", True), ("with_files", False)):
            if data.get(name) is None:
                data[name] = default
        return data


class PlatformQueryForm(forms.Form):
    """The query string of ``GET /api/platforms``: RomM's ``updated_after``."""

    updated_after = RomQueryForm.base_fields["updated_after"]
