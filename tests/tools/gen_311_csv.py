#!/usr/bin/env python3
"""A synthetic open 311 export for deploy/config/import-311.example.toml: ROWS rows (default
100,000), three in four closed, over the mapping's categories and neighbourhoods, deterministic."""
import csv, random, sys
from datetime import datetime, timedelta

rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
rng = random.Random(311)
categories = ["Street and Sidewalk Cleaning", "Graffiti", "Blocked Street or Sidewalk", "Street Defects",
              "Illegal Postings", "Abandoned Vehicle"]
hoods = ["Mission", "Tenderloin", "South of Market", "Outer Sunset"]
start = datetime(2019, 1, 1)
out = csv.writer(sys.stdout, lineterminator="\n")
out.writerow(["service_request_id", "requested_datetime", "expected_datetime", "closed_date", "status_description",
              "service_name", "agency_responsible", "lat", "long", "neighborhoods_sffind_boundaries", "service_details"])
fmt = "%Y-%m-%dT%H:%M:%S.000"
for i in range(rows):
    opened = start + timedelta(seconds=i * 600 + rng.randrange(600))
    due = opened + timedelta(days=rng.choice([2, 3, 5, 10]))
    closed = rng.random() < 0.75
    closed_at = (opened + timedelta(hours=rng.randrange(1, 400))).strftime(fmt) if closed else ""
    status = "Closed" if closed else rng.choice(["Open", "In Progress", "Assigned"])
    out.writerow([10_000_000 + i, opened.strftime(fmt), due.strftime(fmt), closed_at, status, rng.choice(categories),
                  "Public Works", "", "", rng.choice(hoods), f"request {i}: {rng.choice(categories).lower()}"])
