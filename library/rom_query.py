"""``GET /api/roms`` as RomM 5 answers it: which ROMs, in which order, which page, and the
envelope around it (RomM's ``get_roms`` in backend/endpoints/roms/__init__.py).

The query string arrives validated by ``library.forms.RomQueryForm``, and the ROMs to choose
from are the ones the caller may see (``library.visibility.visible_roms``). RomM's filters on facts
this site does not keep (favourites, collections, genres …) match nothing when asked for, as
they would on a RomM server where nothing was ever marked.
"""

from django.db.models import Count, F, Q
from django.db.models.functions import Lower, Substr

from library.forms import UNTRACKED_FLAGS, UNTRACKED_LISTS
from library.schemas import rom_json

DEFAULT_LIMIT = 50
# RomM's order_by names -> this site's columns; any other name orders by name, as RomM does.
ORDER_BY = {
    "name": Lower("name"),
    "fs_name": Lower("file_name"),
    "id": F("pk"),
    "fs_size_bytes": F("size_bytes"),
    "created_at": F("created_at"),
    "updated_at": F("updated_at"),
    "platform_id": F("platform_id"),
}
# The letter index follows a text order; for any other order RomM indexes the names.
INDEX_COLUMN = {"fs_name": "file_name"}
FILTER_VALUES = ("genres", "franchises", "collections", "companies", "game_modes", "age_ratings",
                 "player_counts", "regions", "languages", "tags", "platforms")  # fmt: skip


def search_term_filter(search_term):
    """RomM's ``search_term``: ``|`` separates alternatives; within one, every word must appear
    in the name or the file name, ignoring case. None when it holds no word."""
    alternatives = []
    for term in search_term.split("|"):
        words = term.split()
        if words:
            every_word = Q()
            for word in words:
                every_word &= Q(name__icontains=word) | Q(file_name__icontains=word)
            alternatives.append(every_word)
    if not alternatives:
        return None
    found = alternatives[0]
    for alternative in alternatives[1:]:
        found |= alternative
    return found


def asks_for_untracked(query):
    """True when the query filters on something no ROM here has (a favourite, a collection …)."""
    if any(query.get(name) for name in UNTRACKED_FLAGS):
        return True
    if any(query.get(name) for name in ("collection_id", "smart_collection_id", "virtual_collection_id")):
        return True
    # With "none", the filter keeps ROMs that have none of the values: every ROM here.
    return any(query.get(name) and query.get(f"{name}_logic") != "none" for name in UNTRACKED_LISTS)


def matching(query, roms):
    """The ROMs of ``roms`` the validated ``query`` selects, unordered."""
    found = roms
    if asks_for_untracked(query):
        return found.none()
    if query.get("platform_id") is not None:
        found = found.filter(platform_id=query["platform_id"])
    if query.get("platform_ids"):
        found = found.filter(platform_id__in=query["platform_ids"])
    search = (query.get("search") or "").strip()
    if search:
        found = found.filter(Q(name__icontains=search) | Q(file_name__icontains=search))
    term = search_term_filter(query.get("search_term") or "")
    if term is not None:
        found = found.filter(term)
    if query.get("updated_after") is not None:
        found = found.filter(updated_at__gt=query["updated_after"])
    return found


def order(order_by, order_dir):
    """``(order_by key, descending)`` as RomM reads them: unknown keys order by name."""
    key = (order_by or "").strip().lower()
    return (key if key in ORDER_BY else "name"), (order_dir or "").strip().lower() == "desc"


def ordered(found, key, descending):
    expression = ORDER_BY[key]
    first = expression.desc(nulls_last=True) if descending else expression.asc(nulls_first=True)
    # The id breaks ties, so pages never overlap or skip a ROM.
    return found.order_by(first, "-pk" if descending else "pk")


def letter_index(found, key, descending):
    """``(char_index, total)`` from one grouped query: each first letter, lower case, maps to the
    offset of its first ROM in the list's order; the counts add up to the total."""
    letter = Lower(Substr(INDEX_COLUMN.get(key, "name"), 1, 1))
    counts = (
        found.order_by()
        .annotate(letter=letter)
        .values("letter")
        .annotate(count=Count("pk"))
        .order_by("-letter" if descending else "letter")
    )
    index, offset = {}, 0
    for row in counts:
        index[row["letter"]] = offset
        offset += row["count"]
    return dict(sorted(index.items())), offset


def page(query, roms):
    """The envelope of ``GET /api/roms`` for a validated query (``RomQueryForm.cleaned_data``),
    choosing among ``roms`` (a queryset: what the caller may see)."""
    found = matching(query, roms)
    key, descending = order(query.get("order_by"), query.get("order_dir"))
    limit = query.get("limit") or DEFAULT_LIMIT
    offset = query.get("offset") or 0
    if query["with_char_index"]:
        char_index, total = letter_index(found, key, descending)
    else:
        char_index, total = {}, found.count()
    rows = (
        ordered(found, key, descending).select_related("platform")[offset : offset + limit]
        if offset < total
        else []
    )
    return {
        "items": [rom_json(rom, with_files=query["with_files"]) for rom in rows],
        "total": total,
        "limit": limit,
        "offset": offset,
        "char_index": char_index,
        # RomM's web page scrolls with every id of the result; no app reads it.
        "rom_id_index": [],
        "filter_values": {name: [] for name in FILTER_VALUES},
    }
