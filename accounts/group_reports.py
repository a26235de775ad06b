"""What a set of groups would let a person see, as the apps built on accounts report it.

``manage.py oidc_doctor`` shows, for a pasted token or a test sign-in, which groups the person
would join and leave; apps that restrict content to groups (``library``: platforms) add what
those groups would make visible with ``add_group_report``, so accounts imports none of them.
"""

# Functions (group names, is_admin) -> list of lines, in the order apps added them.
REPORTS = []


def add_group_report(report):
    """Register ``report(group_names, is_admin) -> [str, ...]``; usable as a decorator."""
    REPORTS.append(report)
    return report


def describe(group_names, is_admin=False):
    """Every app's lines for a person in ``group_names`` (a set of Django group names)."""
    lines = []
    for report in REPORTS:
        lines.extend(report(frozenset(group_names), is_admin))
    return lines
