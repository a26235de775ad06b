from django.apps import AppConfig


class LibraryConfig(AppConfig):
    name = "library"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from accounts.group_reports import add_group_report
        from library.visibility import group_report

        # manage.py oidc_doctor then says which platforms a person's groups would show them.
        add_group_report(group_report)
