import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from spinml import Level, SharingPolicy

labels = st.from_regex(r"[a-z][a-z0-9_]{0,8}", fullmatch=True).filter(lambda s: s != "default")
levels = st.sampled_from(list(Level))


def test_levels_are_ordered_and_parse():
    assert Level.L0 < Level.L1 < Level.L2
    for text in ("L1", "l1", " 1 ", 1, Level.L1):
        assert Level.parse(text) is Level.L1
    for bad in ("L3", "high", 3, -1, True, None, 1.0):
        with pytest.raises(ValueError, match="L0, L1 or L2"):
            Level.parse(bad)


def test_unnamed_objects_get_the_default():
    policy = SharingPolicy.from_string("target=L2,background=L1")
    assert policy["target"] is Level.L2 and policy["background"] is Level.L1
    assert policy["bowl"] is Level.L0
    assert SharingPolicy({"target": "L2"}, default="L1")["bowl"] is Level.L1
    assert "bowl" not in policy and "target" in policy and len(policy) == 2


def test_scheme_names_target_then_background():
    assert SharingPolicy.from_string("background=L1,target=L2").scheme == "L2_L1"
    assert SharingPolicy().scheme == "L0_L0"
    assert SharingPolicy(default="L2").scheme == "L2_L2"


def test_builds_from_dict_string_and_json(tmp_path):
    policy = SharingPolicy({"target": Level.L2, "background": 1, "bowl": "l0"})
    assert SharingPolicy.from_string("target=L2, background=L1, bowl=L0") == policy
    assert SharingPolicy.from_dict({"target": "L2", "background": "L1", "bowl": 0}) == policy
    assert SharingPolicy.from_json(policy.to_json()) == policy
    path = tmp_path / "p.json"
    path.write_text(json.dumps({"target": "L2", "background": "L1", "bowl": "L0"}))
    assert SharingPolicy.from_json(path) == policy
    assert SharingPolicy.coerce("target=L2") == SharingPolicy({"target": "L2"})


@given(st.dictionaries(labels, levels, max_size=8), levels)
def test_round_trips_through_str_and_hashes(levels_by_label, default):
    policy = SharingPolicy(levels_by_label, default=default)
    again = SharingPolicy.from_string(str(policy))
    assert again == policy and hash(again) == hash(policy)
    assert SharingPolicy.from_json(policy.to_json()) == policy
    assert eval(repr(policy), {"SharingPolicy": SharingPolicy}) == policy
    assert {policy: 1}[again] == 1


@pytest.mark.parametrize(
    "text, match",
    [
        ("target", "malformed"),
        ("target=", "malformed"),
        ("=L2", "malformed"),
        ("target=L5", "L0, L1 or L2"),
        ("target=L1,target=L2", "named twice"),
        ("tar get=L1", "not valid"),
        ("../x=L1", "not valid"),
    ],
)
def test_bad_policy_strings_are_named(text, match):
    with pytest.raises(ValueError, match=match):
        SharingPolicy.from_string(text)


def test_bad_json_and_types(tmp_path):
    with pytest.raises(ValueError, match="malformed"):
        SharingPolicy.from_json("{not json")
    with pytest.raises(ValueError, match="must be an object"):
        SharingPolicy.from_json("[1]")
    with pytest.raises(FileNotFoundError, match="nope.json"):
        SharingPolicy.from_json(tmp_path / "nope.json")
    with pytest.raises(TypeError):
        SharingPolicy.coerce(3)
    with pytest.raises(ValueError, match="reserved"):
        SharingPolicy({"default": "L1"})
