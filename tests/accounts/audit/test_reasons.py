"""Every reason the sign-in history records has the person's sentence, a fix, and a line in the docs."""

from pathlib import Path

from accounts.audit import reasons

TROUBLESHOOTING = (Path(__file__).resolve().parents[3] / "docs" / "troubleshooting.md").read_text()


def test_every_reason_has_a_sentence_and_a_fix():
    assert set(reasons.SENTENCES) == set(reasons.FIXES)
    for reason in reasons.SENTENCES:
        sentence, fix = reasons.explain(reason, "Authelia")
        assert sentence[:1].isupper() and "{" not in sentence and fix, reason


def test_every_reason_is_explained_on_the_troubleshooting_page():
    missing = [reason for reason in reasons.SENTENCES if f"`{reason}`" not in TROUBLESHOOTING]
    assert missing == []


def test_the_sentence_names_the_provider_and_app_tokens_read_their_own():
    assert reasons.explain("no_role", "Authelia")[0].startswith("Your Authelia groups do not give you access")
    assert "app tokens" in reasons.explain("provider_ended", app_tokens=True)[0]
    assert "your session here has ended" in reasons.explain("provider_ended")[0]
