"""The sign-in health report, page and JSON, against a history made by real sign-ins."""

import re
import statistics
from datetime import datetime, time, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.db.models.functions import TruncDate
from django.test import Client
from django.utils import timezone

from accounts.audit import health
from accounts.models import Role, SignInDay, SignInEvent, User
from devices import client_tokens as tokens
from tests.accounts.audit.history import make_history
from tests.accounts.oidc import test_refusals as refusal_matrix
from tests.conftest import messages_of, sign_in

pytestmark = pytest.mark.django_db

API = "/api/admin/sign-in-health"
PAGE = "/admin/sign-in-health"


@pytest.fixture(autouse=True)
def midday():
    """Noon in the site's time zone, so no sign-in of a test crosses midnight."""
    noon = timezone.make_aware(datetime.combine(timezone.localdate(), time(12)))
    with time_machine.travel(noon, tick=True):
        yield


@pytest.fixture
def history(authentik, settings):
    make_history(authentik, settings)
    return authentik


@pytest.fixture
def admin():
    client = Client()
    client.force_login(User.objects.create_user("root", role=Role.ADMIN))
    return client


def day_index(report, days_ago):
    return report["dates"].index((timezone.localdate() - timedelta(days=days_ago)).isoformat())


def by_key(series):
    return {entry["key"]: entry for entry in series}


# What make_history's sign-ins add up to, per period.
SIGN_INS = {
    7: {"success": 10, "refused": 10},
    30: {"success": 11, "refused": 11},
    90: {"success": 12, "refused": 12},
}
WAYS_IN_90 = {"oidc:authentik": 13, "password": 4, "device": 2, "link": 2, "token": 2, "api": 1}
REFUSALS_7 = {
    "invalid_credentials": 2,
    "email_unverified": 1,
    "no_role": 1,
    "link_invalid": 1,
    "state_unknown": 1,
    "provider_denied": 1,
    "client_rejected": 1,
    "device_denied": 1,
    "password_disabled": 1,
}


@pytest.mark.parametrize("days", health.PERIODS)
def test_json_counts_what_the_history_holds_for_the_period(history, admin, days):
    response = admin.get(API, {"days": days})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    report = response.json()
    assert len(report["dates"]) == days and report["last_day"] == timezone.localdate().isoformat()
    outcomes = by_key(report["sign_ins"]["by_outcome"])
    assert {key: entry["total"] for key, entry in outcomes.items()} == SIGN_INS[days]
    today, two_days_ago = day_index(report, 0), day_index(report, 2)
    assert outcomes["success"]["per_day"][today] == 5 and outcomes["refused"]["per_day"][two_days_ago] == 5
    assert sum(outcomes["success"]["per_day"]) == SIGN_INS[days]["success"]
    ways_in = {entry["key"]: entry["total"] for entry in report["sign_ins"]["by_way_in"]}
    assert sum(ways_in.values()) == sum(SIGN_INS[days].values())
    if days == 90:
        assert ways_in == WAYS_IN_90
        assert by_key(report["sign_ins"]["by_way_in"])["oidc:authentik"]["label"] == "Authentik"
    refusals = {entry["key"]: entry["total"] for entry in report["refusals"]}
    assert sum(refusals.values()) == SIGN_INS[days]["refused"]
    if days == 7:
        assert refusals == REFUSALS_7
    ended = by_key(report["sessions_ended"])
    assert {key: (entry["total"], entry["ended"], entry["ended_by"]) for key, entry in ended.items()} == {
        "backchannel_logout": (3, "session", "backchannel"),
        "provider_ended": (1, "session", "recheck"),
        "app_token:provider_ended": (1, "app tokens", "recheck"),
    }
    assert "your app tokens on this site have been revoked" in ended["app_token:provider_ended"]["sentence"]
    assert "your session here has ended" in ended["provider_ended"]["sentence"]
    assert [(entry["key"], entry["per_day"][today]) for entry in report["key_rotations"]] == [
        ("authentik", 1)
    ]


def test_each_reason_comes_with_the_sentence_the_person_read_and_the_fix(history, admin):
    refusals = by_key(admin.get(API, {"days": 7}).json()["refusals"])
    unverified = refusals["email_unverified"]
    assert unverified["sentence"].startswith("Authentik says your email address is not verified")
    assert (
        "scope mapping for the 'email' scope" in unverified["fix"]
        and "docs/authentik.md" in unverified["fix"]
    )
    assert refusals["invalid_credentials"]["sentence"] == "The username or password is incorrect."
    assert refusals["device_denied"]["sentence"] == "The device was denied: it gets no access."
    assert all(entry["sentence"] and entry["fix"] for entry in refusals.values())


def percentile(values, fraction):
    """The oracle: linear interpolation between the closest ranks, as PostgreSQL's percentile_cont."""
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[round(fraction * 100) - 1]


def test_response_times_are_the_median_and_95th_percentile_of_the_days_token_requests(history, admin):
    report = admin.get(API, {"days": 30}).json()
    (authentik,) = report["provider_response_ms"]
    for days_ago, count in ((0, 5), (2, 3), (9, 2)):
        start = timezone.make_aware(
            datetime.combine(timezone.localdate() - timedelta(days=days_ago), time.min)
        )
        values = list(
            SignInEvent.objects.filter(
                created_at__gte=start,
                created_at__lt=start + timedelta(days=1),
                provider_ms__isnull=False,
            ).values_list("provider_ms", flat=True)
        )
        index = day_index(report, days_ago)
        assert authentik["count"][index] == len(values) == count
        assert authentik["median"][index] == pytest.approx(statistics.median(values), abs=0.001)
        assert authentik["p95"][index] == pytest.approx(percentile(values, 0.95), abs=0.001)
    assert authentik["median"][day_index(report, 1)] is None and authentik["count"][day_index(report, 1)] == 0


def timed_rows(provider, values, day):
    SignInEvent.objects.bulk_create(
        SignInEvent(method="oidc", outcome="success", provider=provider, provider_ms=value)
        for value in values
    )
    SignInEvent.objects.filter(provider=provider).update(
        created_at=timezone.make_aware(datetime.combine(day, time(10)))
    )


@pytest.mark.parametrize("how", ["database", "ranks"])
def test_percentiles_interpolate_between_the_closest_values(how):
    today = timezone.localdate()
    timed_rows("many", [float(value) for value in range(20, 0, -1)], today)
    timed_rows("one", [5.0], today)
    timed_rows("two", [2.0, 1.0], today)
    timed_rows("ties", [3.0, 3.0, 3.0, 7.0], today - timedelta(days=1))
    rows = health.in_period(*health.period(7)[1:])
    if how == "database":  # percentile_cont on PostgreSQL, ranks elsewhere
        groups = health.percentile_groups(rows)
    else:
        groups = health.percentiles_by_rank(
            rows.filter(provider_ms__isnull=False).annotate(day=TruncDate("created_at"))
        )
    yesterday = today - timedelta(days=1)
    assert {
        key: (group["count"], round(group["median"], 6), round(group["p95"], 6))
        for key, group in groups.items()
    } == {
        (today, "many"): (20, 10.5, 19.05),
        (today, "one"): (1, 5.0, 5.0),
        (today, "two"): (2, 1.5, 1.95),
        (yesterday, "ties"): (4, 3.0, 6.4),
    }


def test_a_look_is_five_small_queries_once_the_days_are_summarised(
    history, django_assert_max_num_queries, django_assert_num_queries
):
    with django_assert_max_num_queries(20) as first:  # the days that are over are summarised, once
        cold = health.report(90)
    grouped = [q["sql"].upper() for q in first.captured_queries if "ACCOUNTS_SIGNINEVENT" in q["sql"].upper()]
    assert len(grouped) == 4  # counts and times of the days that are over, then of today
    assert all("GROUP BY" in sql or "ROW_NUMBER" in sql for sql in grouped)
    with django_assert_num_queries(5) as second:
        warm = health.report(90)
    assert warm == cold
    grouped = [
        q["sql"].upper() for q in second.captured_queries if "ACCOUNTS_SIGNINEVENT" in q["sql"].upper()
    ]
    assert (
        len(grouped) == 2 and "PERCENTILE_CONT" in grouped[1] if connection.vendor == "postgresql" else True
    )


def test_summaries_follow_deletions_by_pruning_and_in_the_admin(history, admin):
    before = admin.get(API, {"days": 90}).json()
    assert before["sign_ins"]["by_outcome"][0]["total"] == 12 and SignInDay.objects.exists()
    call_command("prune_signin_history", "--days", "30", stdout=open("/dev/null", "w"))
    pruned = admin.get(API, {"days": 90}).json()
    assert {e["key"]: e["total"] for e in pruned["sign_ins"]["by_outcome"]} == SIGN_INS[30]
    root = User.objects.get(username="root")
    User.objects.filter(pk=root.pk).update(is_superuser=True)
    two_days_ago = timezone.localdate() - timedelta(days=2)
    doomed = SignInEvent.objects.filter(created_at__date=two_days_ago, method="token").values_list(
        "pk", flat=True
    )
    response = admin.post(
        "/admin/accounts/signinevent/",
        {
            "action": "delete_selected",
            "_selected_action": list(doomed),
            "post": "yes",
        },
    )
    assert response.status_code == 302 and len(doomed) == 2
    after = admin.get(API, {"days": 90}).json()
    assert {e["key"]: e["total"] for e in after["sign_ins"]["by_outcome"]} == {"success": 10, "refused": 10}
    assert "token" not in {e["key"] for e in after["sign_ins"]["by_way_in"]}


def test_pruning_keeps_working_and_the_report_follows(history, admin):
    call_command("prune_signin_history", "--days", "30", stdout=open("/dev/null", "w"))
    report = admin.get(API, {"days": 90}).json()
    assert {entry["key"]: entry["total"] for entry in report["sign_ins"]["by_outcome"]} == SIGN_INS[30]


# --- who may ask, and what ------------------------------------------------------------------
@pytest.mark.parametrize("days", ["", "8", "abc", "7.0", "-7", "0", "90 ", "1" * 40])
def test_a_bad_days_is_a_400_naming_it(admin, days):
    response = admin.get(API, {"days": days})
    assert response.status_code == 400
    assert response.json() == {
        "detail": "days must be 7, 30 or 90 (the number of days the report covers, ending today)."
    }
    page = admin.get(PAGE, {"days": days})
    assert page.status_code == 400 and "days must be 7, 30 or 90" in page.content.decode()


def test_without_days_the_report_covers_30_days(admin):
    assert admin.get(API).json()["days"] == 30


def test_only_administrators_see_it(history):
    assert Client().get(API).status_code == 401
    editor = Client()
    editor.force_login(User.objects.create_user("ed", role=Role.EDITOR))
    refused = editor.get(API)
    assert refused.status_code == 403 and "users.read" in refused.json()["detail"]
    assert editor.get(PAGE)["Location"].startswith("/admin/login/")
    assert Client().get(PAGE)["Location"].startswith("/admin/login/")


def test_tokens_need_users_read(history):
    root = User.objects.create_user("root", role=Role.ADMIN)
    allowed, _ = tokens.create(root, "monitoring", ["users.read"], None)
    narrow, _ = tokens.create(root, "library", ["roms.read"], None)
    assert Client().get(API, {"days": 7}, HTTP_AUTHORIZATION=f"Bearer {allowed}").json()["days"] == 7
    refused = Client().get(API, HTTP_AUTHORIZATION=f"Bearer {narrow}")
    assert refused.status_code == 403 and "users.read" in refused.json()["detail"]


# --- the page ---------------------------------------------------------------------------------
def test_the_page_draws_each_chart_with_its_title_and_table(history, admin):
    html = admin.get(PAGE, {"days": 7}).content.decode()
    titles = re.findall(r'<svg [^>]*role="img"[^>]*>\s*<title id="[^"]+">([^<]+)</title>', html)
    assert titles == [
        "Sign-ins per day by outcome",
        "Sign-ins per day by way in",
        "Refusals per day by reason",
        "Token request response time per provider (milliseconds)",
        "Sessions ended by the recheck and by back-channel logout",
        "Keys the provider rotated",
    ]
    assert html.count("<summary>The numbers behind") == 6
    charts = re.findall(r'<section class="health-chart".*?</section>', html, re.S)
    assert len(charts) == 6 and not any("<script" in chart for chart in charts)  # drawn without JavaScript
    today = timezone.localdate().isoformat()
    # The outcome chart's table: today 5 signed in, 5 refused, 10 in all; its bars say the same.
    assert f'<tr><th scope="row">{today}</th><td>5</td><td>5</td><td>10</td></tr>' in html
    assert f"<title>{today}: Refused 5</title>" in html
    assert "Authentik says your email address is not verified" in html
    assert "docs/authentik.md, step 3" in html
    assert html.count('<rect x="') >= 10


def test_the_admin_index_links_to_the_page(admin):
    assert f'href="{PAGE}"' in admin.get("/admin/").content.decode()


def test_an_empty_history_says_so(admin):
    html = admin.get(PAGE).content.decode()
    assert html.count("Nothing in the sign-in history for this period.") == 6


def refused_at(when):
    row = SignInEvent.objects.create(method="password", outcome="refused", reason="invalid_credentials")
    SignInEvent.objects.filter(pk=row.pk).update(created_at=when)


def totals(report):
    return dict(zip(report["dates"], by_key(report["sign_ins"]["by_outcome"])["refused"]["per_day"]))


def test_a_day_is_summarised_only_once_sign_ins_stamped_before_midnight_have_landed():
    midnight = timezone.make_aware(datetime.combine(timezone.localdate() + timedelta(days=1), time.min))
    yesterday = (midnight - timedelta(days=1)).date().isoformat()
    with time_machine.travel(midnight + timedelta(minutes=2), tick=False):
        refused_at(midnight - timedelta(hours=1))
        assert totals(health.report(7))[yesterday] == 1
        refused_at(midnight - timedelta(seconds=1))  # stamped before midnight, committed after
        assert (
            totals(health.report(7))[yesterday] == 2 and not SignInDay.objects.filter(day=yesterday).exists()
        )
    with time_machine.travel(midnight + timedelta(minutes=11), tick=False):
        assert totals(health.report(7))[yesterday] == 2 and SignInDay.objects.filter(day=yesterday).exists()


def test_days_are_the_sites_calendar_days(settings):
    settings.TIME_ZONE = "Pacific/Auckland"
    with timezone.override("Pacific/Auckland"):
        today = timezone.localdate()
        refused_at(timezone.make_aware(datetime.combine(today, time(0, 30))))  # yesterday in UTC
        refused_at(timezone.make_aware(datetime.combine(today - timedelta(days=1), time(23, 30))))
        report = health.report(7)
    assert report["time_zone"] == "Pacific/Auckland"
    assert totals(report)[today.isoformat()] == 1
    assert totals(report)[(today - timedelta(days=1)).isoformat()] == 1


@pytest.mark.parametrize("case", refusal_matrix.MATRIX)
def test_each_policy_refusal_is_counted_with_the_sentence_the_person_read(case, client, authentik, settings):
    setup, _ = refusal_matrix.MATRIX[case]
    person, changes = setup(client, authentik, settings)
    if changes.pop("_subject", None):
        authentik.subjects[person] = "impostor-subject"
    SignInEvent.objects.all().delete()  # what the setup signed in
    response = sign_in(client, authentik, person, **changes)
    (shown,) = messages_of(client.get(response["Location"]))
    (refusal,) = health.report(7)["refusals"]
    assert (refusal["key"], refusal["total"]) == (refusal_matrix.REASONS.get(case, case), 1)
    assert refusal["sentence"] == shown and refusal["fix"]
