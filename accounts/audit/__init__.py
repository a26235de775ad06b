"""The sign-in history read back for administrators: the sign-in health report and its reasons."""
