"""Platforms and ROMs as RomM 5 sends them, so RomM's apps decode them unchanged.

The field lists are RomM 5.0's ``PlatformSchema``, ``SimpleRomSchema`` and ``DetailedRomSchema``
(RomM's backend/endpoints/responses/platform.py and rom.py). Apps written in Kotlin, Go, Swift
and Rust decode them strictly: every key is always present, with the type RomM gives it. What
this site does not keep (metadata ids, covers, saves, per-person state) carries RomM's own empty
value. This site's own keys (``file_name``, ``size_bytes``, ``notes``) stay alongside RomM's.
"""

import re

from django.db.models import Count, Sum, Value
from django.db.models.functions import Coalesce

from library.models import Platform

# A trailing extension, also a multi-part one (".tar.gz"), as RomM's models/base.py reads it.
EXTENSION = re.compile(r"\.(([a-z]+\.)*\w+)$")
# Trailing "(USA)", "[!]" groups.
TAGS = re.compile(r"(?:\s*(?:\([^)]*\)|\[[^]]*\]))+\s*$")

# Metadata sources RomM matches platforms and ROMs against; this site matches none.
PLATFORM_IDS = ("igdb_id", "sgdb_id", "moby_id", "launchbox_id", "ss_id", "ra_id", "hasheous_id", "tgdb_id",
                "flashpoint_id")  # fmt: skip
ROM_INT_IDS = ("igdb_id", "sgdb_id", "moby_id", "ss_id", "ra_id", "launchbox_id", "hasheous_id", "tgdb_id",
               "hltb_id")  # fmt: skip
ROM_STR_IDS = ("flashpoint_id", "gamelist_id", "libretro_id")
ROM_METADATA = ("igdb_metadata", "moby_metadata", "ss_metadata", "launchbox_metadata", "hasheous_metadata",
                "flashpoint_metadata", "hltb_metadata", "gamelist_metadata", "manual_metadata")  # fmt: skip
DETAIL_LISTS = ("user_saves", "user_states", "all_user_saves", "all_user_states", "user_screenshots",
                "all_user_screenshots", "user_collections", "all_user_notes")  # fmt: skip


def name_without_extension(file_name):
    return EXTENSION.sub("", file_name).strip()


def name_without_tags(file_name):
    return TAGS.sub("", name_without_extension(file_name)).strip()


def extension(file_name):
    """The extension without its dot, or ``""``."""
    match = EXTENSION.search(file_name)
    return match.group(1) if match else ""


def with_counts(platforms):
    """``platforms`` annotated with ``rom_count`` and ``roms_size`` (one query, no per-row count)."""
    return platforms.annotate(rom_count=Count("roms"), roms_size=Coalesce(Sum("roms__size_bytes"), Value(0)))


def platform_json(platform):
    """RomM's ``PlatformSchema``; ``platform`` comes from ``with_counts`` (else its counts are read)."""
    if not hasattr(platform, "rom_count"):
        platform = with_counts(Platform.objects.filter(pk=platform.pk)).get()
    return {
        "id": platform.pk,
        "slug": platform.slug,
        # RomM's folder name on disk; apps map platforms to their own folders by it.
        "fs_slug": platform.slug,
        "rom_count": platform.rom_count,
        "name": platform.name,
        "igdb_slug": None,
        "moby_slug": None,
        "hltb_slug": None,
        "libretro_slug": None,
        "custom_name": None,
        **dict.fromkeys(PLATFORM_IDS),
        "category": None,
        "generation": None,
        "family_name": None,
        "family_slug": None,
        "url": None,
        "url_logo": None,
        "firmware": [],
        "created_at": platform.created_at,
        "updated_at": platform.updated_at,
        "fs_size_bytes": platform.roms_size,
        # RomM: identified means matched to a metadata source, which nothing here is.
        "is_unidentified": True,
        "is_identified": False,
        "missing_from_fs": False,
        "display_name": platform.name,
        "firmware_count": 0,
    }


def fs_path(rom):
    return f"roms/{rom.platform.slug}"


def file_json(rom):
    """RomM's ``RomFileSchema`` for the one file a ROM entry here stands for (its id is the ROM's)."""
    return {
        "id": rom.pk,
        "rom_id": rom.pk,
        "file_name": rom.file_name,
        "file_path": fs_path(rom),
        "file_size_bytes": rom.size_bytes or 0,
        "full_path": f"{fs_path(rom)}/{rom.file_name}",
        "is_top_level": True,
        "created_at": rom.created_at,
        "updated_at": rom.updated_at,
        "last_modified": rom.updated_at,
        "crc_hash": None,
        "md5_hash": None,
        "sha1_hash": None,
        "ra_hash": None,
        "chd_sha1_hash": None,
        "archive_members": None,
        "category": "game",
        "track_meta": None,
    }


def rom_user_json(rom):
    """RomM's placeholder for "this person has no play data on this ROM" (ids -1)."""
    return {
        "id": -1,
        "user_id": -1,
        "rom_id": -1,
        "created_at": rom.created_at,
        "updated_at": rom.updated_at,
        "last_played": None,
        "is_main_sibling": False,
        "backlogged": False,
        "now_playing": False,
        "hidden": False,
        "rating": 0,
        "difficulty": 0,
        "completion": 0,
        "status": None,
    }


def rom_json(rom, with_files=True):
    """RomM's ``SimpleRomSchema`` (what ``GET /api/roms`` lists), plus this site's own keys.

    ``rom.platform`` should be loaded with it (``select_related``). ``files`` is ``[]`` unless
    asked for, as RomM's list does without ``with_files=true``.
    """
    platform, fs_name = rom.platform, rom.file_name
    return {
        "id": rom.pk,
        **dict.fromkeys(ROM_INT_IDS),
        **dict.fromkeys(ROM_STR_IDS),
        "platform_id": rom.platform_id,
        "platform_slug": platform.slug,
        "platform_fs_slug": platform.slug,
        "platform_custom_name": None,
        "platform_display_name": platform.name,
        "fs_name": fs_name,
        "fs_name_no_tags": name_without_tags(fs_name),
        "fs_name_no_ext": name_without_extension(fs_name),
        "fs_extension": extension(fs_name),
        "fs_path": fs_path(rom),
        "fs_size_bytes": rom.size_bytes or 0,
        "name": rom.name,
        "name_sort_key": rom.name.lower(),
        "slug": None,
        "summary": None,
        "alternative_names": [],
        "youtube_video_id": None,
        "metadatum": {
            "rom_id": rom.pk,
            "genres": [],
            "franchises": [],
            "collections": [],
            "companies": [],
            "game_modes": [],
            "age_ratings": [],
            "player_count": "",
            "first_release_date": None,
            "average_rating": None,
        },
        **dict.fromkeys(ROM_METADATA),
        "path_cover_small": "",
        "path_cover_large": "",
        "url_cover": "",
        "has_manual": False,
        "has_soundtrack": False,
        "path_manual": None,
        "url_manual": None,
        "path_video": None,
        "is_identifying": False,
        "is_unidentified": True,
        "is_identified": False,
        "revision": None,
        "regions": [],
        "languages": [],
        "tags": [],
        "crc_hash": None,
        "md5_hash": None,
        "sha1_hash": None,
        "ra_hash": None,
        "has_simple_single_file": True,
        "has_nested_single_file": False,
        "has_multiple_files": False,
        "full_path": f"{fs_path(rom)}/{fs_name}",
        "created_at": rom.created_at,
        "updated_at": rom.updated_at,
        "missing_from_fs": False,
        # RomM's notes are people's own notes on a game; this site's ``notes`` is the entry's.
        "has_notes": False,
        "rom_user": rom_user_json(rom),
        "merged_screenshots": [],
        "merged_ra_metadata": None,
        "files": [file_json(rom)] if with_files else [],
        "sibling_roms": [],
        "screenshot_path": None,
        # This site's own names, as before.
        "file_name": fs_name,
        "size_bytes": rom.size_bytes,
        "notes": rom.notes,
    }


def rom_detail_json(rom):
    """RomM's ``DetailedRomSchema`` (``GET /api/roms/<id>``): the list's fields with the file, and
    the person's saves, states, screenshots, collections and notes (none here)."""
    body = rom_json(rom, with_files=True)
    del body["screenshot_path"]
    body.update({key: [] for key in DETAIL_LISTS})
    return body
