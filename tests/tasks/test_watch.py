"""The delivery watcher's detection rule (tasks/watch.py): new, changed, unchanged, incomplete deliveries."""
from __future__ import annotations

import json

from repool.tasks.watch import event_resource, find_new_deliveries, load_seen, save_seen, state_path
from tests.fixtures_deliveries import write_all, write_csv_legacy


def _keys(new):
    return [(d["study"], d["delivery_id"]) for d in new]


def test_everything_is_new_to_an_empty_seen_map(tmp_path):
    root = write_all(tmp_path / "data")
    new, seen = find_new_deliveries(root / "deliveries", {})
    assert _keys(new) == [("00103311", "2016-01-04"), ("MT103-206", "2013-06-30"), ("MT103-211", "2014-06-30")]
    assert set(seen) == {"00103311/2016-01-04", "MT103-206/2013-06-30", "MT103-211/2014-06-30"}
    assert all(len(d["fingerprint"]) == 64 and d["fingerprint"] == seen[f"{d['study']}/{d['delivery_id']}"] for d in new)


def test_unchanged_deliveries_are_not_new_and_seen_is_not_mutated(tmp_path):
    root = write_all(tmp_path / "data")
    _, seen = find_new_deliveries(root / "deliveries", {})
    before = dict(seen)
    new, again = find_new_deliveries(root / "deliveries", seen)
    assert new == [] and again == seen and seen == before


def test_a_new_delivery_of_one_study_is_new(tmp_path):
    root = write_all(tmp_path / "data")
    _, seen = find_new_deliveries(root / "deliveries", {})
    write_csv_legacy(root, delivery_id="2013-09-30")
    new, seen2 = find_new_deliveries(root / "deliveries", seen)
    assert _keys(new) == [("MT103-206", "2013-09-30")]
    assert set(seen2) == set(seen) | {"MT103-206/2013-09-30"}


def test_a_changed_manifest_counts_as_new(tmp_path):
    root = write_all(tmp_path / "data")
    _, seen = find_new_deliveries(root / "deliveries", {})
    header = "PATNR;STATUS;STATUS_DATE"
    write_csv_legacy(root, **{"followup.csv": (header, ["1;DEAD;01.02.2013", "2;DEAD;30.06.2013",
                                                        "3;DEAD;15.06.2012", "4;ALIVE;30.06.2013"])})
    new, seen2 = find_new_deliveries(root / "deliveries", seen)
    assert _keys(new) == [("MT103-206", "2013-06-30")]
    assert seen2["MT103-206/2013-06-30"] != seen["MT103-206/2013-06-30"]


def test_a_delivery_without_manifest_does_not_count_yet(tmp_path):
    root = write_all(tmp_path / "data")
    _, seen = find_new_deliveries(root / "deliveries", {})
    folder = write_csv_legacy(root, delivery_id="2013-09-30")
    manifest = (folder / "manifest.json").read_bytes()
    (folder / "manifest.json").unlink()  # files copied, manifest not yet written
    (root / "deliveries" / "MT103-206" / "notes").mkdir()  # not a delivery id: ignored
    new, seen2 = find_new_deliveries(root / "deliveries", seen)
    assert new == [] and seen2 == seen
    (folder / "manifest.json").write_bytes(manifest)
    new, _ = find_new_deliveries(root / "deliveries", seen2)
    assert _keys(new) == [("MT103-206", "2013-09-30")]


def test_a_vanished_delivery_is_forgotten_and_new_again_when_back(tmp_path):
    import shutil

    root = write_all(tmp_path / "data")
    _, seen = find_new_deliveries(root / "deliveries", {})
    moved = tmp_path / "aside"
    shutil.move(root / "deliveries" / "MT103-211" / "2014-06-30", moved)
    new, seen2 = find_new_deliveries(root / "deliveries", seen)
    assert new == [] and "MT103-211/2014-06-30" not in seen2
    shutil.move(moved, root / "deliveries" / "MT103-211" / "2014-06-30")
    new, _ = find_new_deliveries(root / "deliveries", seen2)
    assert _keys(new) == [("MT103-211", "2014-06-30")]


def test_missing_deliveries_folder_is_empty(tmp_path):
    assert find_new_deliveries(tmp_path / "nowhere", {"A/2020-01-01": "x"}) == ([], {})


def test_seen_state_round_trip(tmp_path):
    assert load_seen(tmp_path) is None  # never scanned
    p = save_seen(tmp_path, {"B/2020-01-01": "b", "A/2020-01-01": "a"})
    assert p == state_path(tmp_path) and p.name == ".repool-watch.json"
    assert load_seen(tmp_path) == {"A/2020-01-01": "a", "B/2020-01-01": "b"}
    assert list(json.loads(p.read_text())["seen"]) == ["A/2020-01-01", "B/2020-01-01"]
    assert [q.name for q in tmp_path.iterdir()] == [".repool-watch.json"]  # no temp file left


def test_event_resource_names_study_and_delivery(tmp_path):
    r = event_resource({"study": "MT103-206", "delivery_id": "2013-09-30"}, tmp_path)
    assert r["prefect.resource.id"] == "repool.delivery.MT103-206.2013-09-30"
    assert r["study"] == "MT103-206" and r["delivery_id"] == "2013-09-30"
    assert all(isinstance(v, str) for v in r.values())
