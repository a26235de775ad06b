"""The admin's account change form, judged against what its page showed.

A form loaded before an administrator elsewhere deactivated or demoted the account must not
undo that when saved: only what was changed on this page is written (``accounts.admin``).
"""

import logging

from django.contrib.auth.forms import UserChangeForm
from django.core.exceptions import ValidationError

logger = logging.getLogger(__name__)

EMAIL_CHANGED_SINCE_SHOWN = (
    "The email address changed since this page was shown; reload the page and check it again."
)


class ShownValuesForm(UserChangeForm):
    """The change form, judged against what its page showed rather than the row at save time.

    Each field is rendered with a hidden ``initial-<name>`` copy of the value shown (Django's
    ``show_hidden_initial``), so ``changed_data`` names only what the administrator changed on
    that page. A POST without those copies (a script) is compared with the row as it is now.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            shown = not self.is_bound or self[name].html_initial_name in self.data
            field.show_hidden_initial = shown and not field.disabled

    def clean(self):
        """``email`` and ``email_confirmed`` are one unit: ticking "email confirmed" confirms the
        address the page showed, so a save touching either is refused when the account's address
        changed since (on /profile, say); only the changed fields would be written otherwise."""
        cleaned = super().clean()
        if self.instance.pk is None or "email" not in self.fields:
            return cleaned
        if not {"email", "email_confirmed"} & set(self.changed_data):
            return cleaned
        # The admin's POST is one transaction: the row stays as checked until the save.
        current = (
            type(self.instance)._default_manager.select_for_update()
            .filter(pk=self.instance.pk).values_list("email", flat=True).first()
        )
        if current is not None and current != self._shown("email"):
            logger.warning(
                "admin: save of %r refused: its email changed since the change page was shown",
                self.instance.username,
            )
            raise ValidationError(EMAIL_CHANGED_SINCE_SHOWN, code="email_changed")
        return cleaned

    def _shown(self, name):
        """The value of ``name`` the page showed (its hidden copy), else the row's when loaded."""
        field = self.fields[name]
        if not field.show_hidden_initial:
            return self.get_initial_for_field(field, name)
        value = field.hidden_widget().value_from_datadict(self.data, self.files, self.add_initial_prefix(name))
        try:
            return field.to_python(value)
        except ValidationError:
            return None
