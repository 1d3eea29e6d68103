"""Fictional names for the synthetic district: people, schools and streets.

Lists are short on purpose; combinations give enough variety for thousands of students.
None of these refer to real people or schools.
"""

from __future__ import annotations

import random

FIRST_NAMES_F = (
    "Ava", "Mia", "Sofia", "Isabella", "Camila", "Emma", "Olivia", "Luna", "Aria", "Chloe",
    "Zoe", "Layla", "Nora", "Maya", "Elena", "Valeria", "Hannah", "Leah", "Ruby", "Iris",
    "Priya", "Mei", "Amara", "Noor", "Esme", "Lucia", "Freya", "Tala", "Jade", "Rosa",
)
FIRST_NAMES_M = (
    "Liam", "Noah", "Mateo", "Elijah", "Lucas", "Ethan", "Leo", "Diego", "Julian", "Owen",
    "Caleb", "Ezra", "Adrian", "Miles", "Jonah", "Isaac", "Samuel", "Kai", "Arjun", "Hiro",
    "Omar", "Felix", "Tomas", "Nico", "Rafael", "Theo", "Amir", "Bruno", "Emil", "Dante",
)
LAST_NAMES = (
    "Alvarez", "Brooks", "Castillo", "Dawson", "Ellery", "Fuentes", "Garrow", "Hollis", "Ibarra",
    "Jensen", "Kowal", "Lindqvist", "Marsh", "Nakamura", "Okafor", "Pereira", "Quill", "Ramos",
    "Sandoval", "Tran", "Umber", "Vasquez", "Whitlock", "Xiong", "Yardley", "Zamora", "Abernath",
    "Beltran", "Corwin", "Delacroix", "Esparza", "Farrow", "Galindo", "Hartwell", "Iverson",
    "Jaramillo", "Kestrel", "Lozano", "Montague", "Navarro", "Orozco", "Pembrook", "Quintero",
    "Rosales", "Sterling", "Thackeray", "Urbina", "Valdez", "Winslow", "Ybarra",
)
SCHOOL_STEMS = (
    "Cedar Ridge", "Willow Creek", "Granite Hills", "Sycamore Valley", "Juniper Flats", "Maple Grove",
    "Redwood Bluff", "Aspen Meadow", "Laurel Canyon", "Oak Hollow", "Pinecrest", "Sagebrush",
    "Bay Laurel", "Manzanita", "Coyote Point", "Falcon Crest", "Heron Bay", "Quail Run",
    "Elkhorn", "Poppy Field",
)
STREETS = ("Acorn Way", "Birch Lane", "Canyon Road", "Dune Street", "Elm Court", "Fern Avenue",
           "Glen Drive", "Harbor Street", "Ivy Lane", "Jasmine Way")


def school_name(index: int) -> str:
    stem = SCHOOL_STEMS[index % len(SCHOOL_STEMS)]
    suffix = "" if index < len(SCHOOL_STEMS) else f" {index // len(SCHOOL_STEMS) + 1}"
    return f"{stem}{suffix} Middle School"


def person(rng: random.Random, gender: str) -> tuple[str, str]:
    first = rng.choice(FIRST_NAMES_F if gender == "F" else FIRST_NAMES_M)
    return first, rng.choice(LAST_NAMES)


def address(rng: random.Random) -> str:
    return f"{rng.randint(100, 9899)} {rng.choice(STREETS)}"
