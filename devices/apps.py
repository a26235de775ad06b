from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.conf import settings
        from django.db.models.signals import post_save

        from devices import tokens

        post_save.connect(
            tokens.owner_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="devices.revoke_inactive"
        )
