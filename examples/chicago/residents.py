#!/usr/bin/python3
"""Deterministic residents for the demo: one per Chicago service request.

The published requests carry no requester, so the demo makes one up for
each request from a hash of its id: the same id always gives the same
name and address, on every machine, so tests can predict each email.

    residents.py [DATA.json]     prints the residents as JSON
"""
import hashlib
import json
import os
import sys

FIRST = ["Ana", "Bilal", "Chen", "Dolores", "Emeka", "Fatima", "Gus",
         "Hana", "Ivan", "Jazmín", "Kwame", "Lena", "Marisol", "Nikhil",
         "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tomás", "Uma", "Vera",
         "Wen", "Xavier", "Yusuf", "Zoë"]
LAST = ["Abara", "Brennan", "Castillo", "Dąbrowski", "Evans", "Fontaine",
        "García", "Hoang", "Iqbal", "Johnson", "Kowalski", "López", "Murphy",
        "Nguyen", "Okafor", "Patel", "Quintero", "Rossi", "Smith", "Tanaka",
        "Úbeda", "Vargas", "Washington", "Xu", "Yilmaz", "Zielinski"]
ASCII = str.maketrans("áàäâãéèëêíìïîóòöôõúùüûñçąęłńśźżÁÉÍÓÚÑĄĘŁŃŚŹŻ",
                      "aaaaaeeeeiiiiooooouuuuncaelnszzAEIOUNAELNSZZ")

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "chicago_open311_requests_2014.json")


def resident_for(request_id):
    """Returns {first_name, last_name, email} for a service request id."""
    digest = hashlib.sha256(request_id.encode()).digest()
    first = FIRST[digest[0] % len(FIRST)]
    last = LAST[digest[1] % len(LAST)]
    local = "%s.%s.%s" % (first.translate(ASCII).lower(),
                          last.translate(ASCII).lower(), digest[2:4].hex())
    return {"first_name": first, "last_name": last,
            "email": local + "@example.com"}


def load_requests(path=DATA):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def residents(requests):
    return {r["service_request_id"]: resident_for(r["service_request_id"])
            for r in requests}


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else DATA
    json.dump(residents(load_requests(path)), sys.stdout, indent=2,
              ensure_ascii=False)
    print()
