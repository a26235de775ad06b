from django.apps import AppConfig


class DevicesConfig(AppConfig):
    name = "devices"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from accounts import profile
        from accounts.audit import reasons
        from accounts.oidc import app_recheck
        from accounts.sessions import page as sessions_page
        from accounts.signals import access_withdrawn
        from devices import client_tokens as tokens
        from devices.views.profile import apps_context, sessions_context

        access_withdrawn.connect(tokens.access_withdrawn, dispatch_uid="devices.revoke_withdrawn")
        app_recheck.add_token_holder(tokens.holds_live)
        profile.add_section("devices/_profile_apps.html", apps_context)
        sessions_page.add_section("devices/_sessions_apps.html", sessions_context)
        reasons.describe(
            "device_denied",
            "The device was denied: it gets no access.",
            "Nothing: the person chose Deny on /pair/device for a device sign-in they did not start or want.",
        )
