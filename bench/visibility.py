"""Benchmark: what restricting platforms to groups costs the library's lists, JSON and pages.

Run: /path/to/python bench/visibility.py [--requests 30] [--databases sqlite,postgres]
         [--cache locmemcache://] [--seconds 150]

The site runs under gunicorn (bench/stack.py, 2 workers) with bench/countingwsgi.py counting
each request's queries, on an SQLite file and on PostgreSQL (a database named
``romm_perf_visibility``, made and dropped here). The library has 30 platforms and 10,000 ROMs;
10 platforms are restricted, 5 to the group ``kids`` and 5 to ``family``. Four viewers and
admins ask for the same six lists (the platform list, a page of the ROM list, and a search, as
JSON and as pages), taking turns request by request so a busy moment of the shared machine hits
them alike:

- admin: an administrator, whom no rule filters (what every person cost before groups);
- all groups: a viewer in kids and family, who sees all 30 through them;
- one group: a viewer in kids, who sees 25;
- no group: a viewer in no group, who sees the 20 unrestricted platforms.

Printed per database: each list's queries per request and the median time of the request in
the site (X-Bench-Ms) for each person, and the number of ROMs the person's list counted (the
``total``), which shows that the rule was applied. ``--seconds`` caps the measuring.
"""

import argparse
import statistics
import time

import requests
from stack import Stack, cost

PASSWORD = "bench-password-long-enough"
PEOPLE = {  # name -> (role, groups)
    "admin": ("admin", ()),
    "all groups": ("viewer", ("kids", "family")),
    "one group": ("viewer", ("kids",)),
    "no group": ("viewer", ()),
}
LISTS = {
    "JSON platforms": "/api/platforms",
    "JSON ROMs page 3": "/api/roms?limit=50&offset=100",
    "JSON search": "/api/roms?search_term=zelda&limit=50",
    "page platforms": "/library/platforms/",
    "page ROMs page 3": "/library/?page=3",
    "page search": "/library/?q=zelda",
}

SEED = """
from django.contrib.auth.models import Group
from django.db import connection
from accounts.models import User
from library.models import Platform, Rom

kids, family = Group.objects.create(name="kids"), Group.objects.create(name="family")
platforms = [Platform.objects.create(name=f"Platform {{i:02d}}", slug=f"p{{i:02d}}") for i in range(30)]
for platform in platforms[20:25]:
    platform.groups.set([kids])
for platform in platforms[25:]:
    platform.groups.set([family])
words = ["Mario", "Zelda", "Metroid", "Kirby", "Tetris", "Sonic", "Castlevania"]
Rom.objects.bulk_create(
    (Rom(name=f"{{words[i % 7]}} {{i:05d}}", platform=platforms[i % 30], file_name=f"game{{i:05d}}.bin",
         size_bytes=i * 1024) for i in range(10000)),
    batch_size=1000,
)
for index, (role, groups) in enumerate({people!r}.values()):
    user = User.objects.create_user(f"person{{index}}", password={password!r}, role=role)
    user.groups.set(Group.objects.filter(name__in=groups))
# The planner's statistics, as autovacuum would gather them a minute after a bulk insert.
with connection.cursor() as cursor:
    cursor.execute("ANALYZE")
"""


def session_of(stack, index):
    http = requests.Session()
    http.post(f"{stack.url}/api/login", auth=(f"person{index}", PASSWORD), timeout=30).raise_for_status()
    return http


def total_seen(http, stack):
    return http.get(f"{stack.url}/api/roms?limit=1", timeout=30).json()["total"]


def measure(stack, count, seconds):
    sessions = {name: session_of(stack, index) for index, name in enumerate(PEOPLE)}
    seen = {name: total_seen(http, stack) for name, http in sessions.items()}
    for http in sessions.values():  # warm every worker's connections
        for path in LISTS.values():
            for _ in range(2):
                http.get(stack.url + path, timeout=30)
    queries = {(name, lst): set() for name in PEOPLE for lst in LISTS}
    times = {(name, lst): [] for name in PEOPLE for lst in LISTS}
    deadline = time.monotonic() + seconds
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        for lst, path in LISTS.items():
            for name, http in sessions.items():
                response = http.get(stack.url + path, timeout=30)
                if response.status_code != 200:
                    raise SystemExit(f"{name} {path}: {response.status_code}")
                measured = cost(response)
                queries[name, lst].add(measured["queries"])
                times[name, lst].append(measured["ms"])
    return seen, queries, times


def report(label, seen, queries, times):
    print(f"\n{label}: 30 platforms (10 restricted), 10,000 ROMs; queries per request / median ms in the site")
    print(f"{'':18s}" + "".join(f"{name:>16s}" for name in PEOPLE))
    print(f"{'ROMs seen':18s}" + "".join(f"{seen[name]:>16,d}" for name in PEOPLE))
    for lst in LISTS:
        cells = []
        for name in PEOPLE:
            done = times[name, lst]
            q = "/".join(str(n) for n in sorted(queries[name, lst]))
            cells.append(f"{q:>4s} q {statistics.median(done):7.1f} ms" if done else "(no time)")
        print(f"{lst:18s}" + "".join(f"{cell:>16s}" for cell in cells))
    samples = min(len(t) for t in times.values())
    print(f"({samples} requests per cell)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30, help="requests per person and list")
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--cache", default="locmemcache://", help="the site's CACHE_URL")
    parser.add_argument("--seconds", type=float, default=150, help="stop measuring after this, per database")
    args = parser.parse_args()
    for database in args.databases.split(","):
        with Stack(database=database, cache=args.cache, workers=2, name="romm_perf_visibility") as stack:
            stack.manage("shell", "-c", SEED.format(people=dict(PEOPLE), password=PASSWORD))
            seen, queries, times = measure(stack, args.requests, args.seconds)
        report("SQLite" if database == "sqlite" else "PostgreSQL", seen, queries, times)


if __name__ == "__main__":
    main()
