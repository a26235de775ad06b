"""The profile's form for a new client token: name, scopes the role allows, expiry."""

from django import forms

from accounts.api.access import SCOPES, scopes_for_role

EXPIRY_LABELS = [("30d", "30 days"), ("90d", "90 days"), ("1y", "1 year"), ("never", "Never")]


class ClientTokenForm(forms.Form):
    name = forms.CharField(max_length=100, strip=True)
    scopes = forms.MultipleChoiceField(widget=forms.CheckboxSelectMultiple)
    expires_in = forms.ChoiceField(choices=EXPIRY_LABELS, initial="90d")

    def __init__(self, *args, role, **kwargs):
        super().__init__(*args, **kwargs)
        allowed = scopes_for_role(role)
        # Only what the role grants is offered; anything else posted is "not a valid choice".
        self.fields["scopes"].choices = [(s, s) for s in SCOPES if s in allowed]
        self.fields["scopes"].initial = [s for s in SCOPES if s in allowed and s.endswith(".read")]
