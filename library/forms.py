from django import forms
from django.utils.text import slugify

from library.models import Platform, Rom


class RomForm(forms.ModelForm):
    class Meta:
        model = Rom
        fields = ["name", "platform", "file_name", "size_bytes", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 5})}


class PlatformForm(forms.ModelForm):
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
        Platform.objects.all(), required=False, empty_label="All platforms", to_field_name="slug"
    )


class RomQueryForm(forms.Form):
    """The query string of ``GET /api/roms``: what to filter on and which page of results."""

    # Upper bounds keep every value inside a 64-bit database integer (SQLite raises beyond it).
    platform_id = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    search = forms.CharField(required=False, max_length=200)
    limit = forms.IntegerField(required=False, min_value=1, max_value=200)
    offset = forms.IntegerField(required=False, min_value=0, max_value=2**63 - 1)
