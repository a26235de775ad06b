"""Checks on text that arrives in JSON bodies, shared by every JSON API of the site."""


def is_text(value):
    """False for a string no database can store (a lone surrogate, which JSON's \\ud800 can carry)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
