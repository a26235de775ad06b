from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth.signals import user_logged_in
        from django.db.models.signals import post_delete, post_save, pre_delete

        from accounts import checks  # noqa: F401  (registers the system checks)
        from accounts.oidc import app_recheck
        from accounts.sessions import ending as sessions
        from accounts.signals import access_withdrawn

        post_save.connect(sessions.user_saved, sender=self.get_model("User"), dispatch_uid="accounts.end_inactive")
        access_withdrawn.connect(sessions.revoke_api_tokens, dispatch_uid="accounts.revoke_api_tokens")
        pre_delete.connect(sessions.user_deleting, sender=self.get_model("User"), dispatch_uid="accounts.end_deleted")
        # accounts.signin stamps last_login itself, only on an account still active.
        user_logged_in.disconnect(dispatch_uid="update_last_login")
        post_delete.connect(
            sessions.identity_deleted, sender=self.get_model("Identity"), dispatch_uid="accounts.end_unlinked"
        )
        post_delete.connect(
            app_recheck.identity_unlinked, sender=self.get_model("Identity"), dispatch_uid="accounts.revoke_unlinked"
        )
