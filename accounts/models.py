from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower


class Role(models.TextChoices):
    """viewer < editor < admin; the order of the choices is the order of the roles."""

    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"
    ADMIN = "admin", "Admin"

    @classmethod
    def rank(cls, role):
        return list(cls.values).index(role)


class AccountManager(UserManager):
    def create_superuser(self, username, email=None, password=None, **extra_fields):
        extra_fields.setdefault("role", Role.ADMIN)
        return super().create_superuser(username, email, password, **extra_fields)


class User(AbstractUser):
    """An account; its role decides what it may do, and Django's staff flags follow the role."""

    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)

    objects = AccountManager()

    class Meta:
        constraints = [
            # OIDC links accounts by email, so two accounts must never share one.
            models.UniqueConstraint(
                Lower("email"),
                condition=~models.Q(email=""),
                name="accounts_user_email_ci_unique",
                violation_error_message="Another account already uses this email address.",
            )
        ]

    def save(self, *args, **kwargs):
        is_admin = self.role == Role.ADMIN
        self.is_staff = self.is_superuser = is_admin
        if kwargs.get("update_fields") is not None and "role" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], "is_staff", "is_superuser"}
        super().save(*args, **kwargs)


class Identity(models.Model):
    """A person at an OpenID provider, ``(issuer, subject)``, linked to one account."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="identities")
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    provider = models.CharField(max_length=64, help_text="Short name of the configured provider.")
    email = models.EmailField(blank=True, help_text="Email seen at the last sign-in.")
    groups = models.JSONField(default=list, blank=True, help_text="Groups seen at the last sign-in.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="accounts_identity_unique"),
            # One identity per issuer per account: an account linked to one subject of an
            # issuer is never taken over by another subject of the same issuer.
            models.UniqueConstraint(fields=["user", "issuer"], name="accounts_identity_one_per_issuer"),
        ]

    def __str__(self):
        return f"{self.provider}:{self.subject}"
