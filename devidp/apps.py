from django.apps import AppConfig


class DevidpConfig(AppConfig):
    name = "devidp"

    def ready(self):
        from django.contrib.auth import get_user_model
        from django.contrib.auth.signals import user_logged_out
        from django.db.models.signals import post_save

        from devidp import backchannel

        user_logged_out.connect(backchannel.logged_out, dispatch_uid="devidp.backchannel")
        post_save.connect(backchannel.user_saved, sender=get_user_model(), dispatch_uid="devidp.tokens")
