"""The one reader of store configuration (archive.envconfig): defaults, per-store
endpoints and keys, secrets from files, and errors that name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from archive.envconfig import ConfigError, read_store_config

MiB = 2**20


def read(**env: str):  # type: ignore[no-untyped-def]
    return read_store_config(env, default_url="file:///var/objects", probe_cache_dir="/c")


def test_unset_variables_give_the_documented_defaults() -> None:
    config = read()
    assert config.urls == {"primary": "file:///var/objects"}
    s3 = config.options_for("s3://bucket/p")
    assert (s3["part_size"], s3["concurrency"]) == (16 * MiB, 4)
    assert s3["multipart_threshold"] == 64 * MiB and s3["checksum_mode"] == "when_required"
    assert s3["probe_cache_dir"] == "/c" and s3["region"] == "us-east-1"
    # A directory store takes only the options it understands.
    assert config.specs() == {"primary": ("file:///var/objects",
                                          {"max_object_bytes": 512 * 2**30})}


def test_stores_keep_their_order_and_each_its_own_endpoint_and_keys(tmp_path: Path) -> None:
    secret = tmp_path / "offsite-secret"
    secret.write_text("from-a-file\n")
    config = read(STORE_URL="s3://main/swaths", STORES="offsite=s3://far, third=file:///t",
                  S3_ENDPOINT_URL="http://near:9000", AWS_ACCESS_KEY_ID="shared",
                  S3_PART_SIZE_MB="32", STORE_OFFSITE_ENDPOINT_URL="http://far:9000",
                  STORE_OFFSITE_ACCESS_KEY_ID="far-key",
                  STORE_OFFSITE_SECRET_ACCESS_KEY_FILE=str(secret))
    assert list(config.urls) == ["primary", "offsite", "third"]
    specs = config.specs()
    assert specs["primary"][1]["endpoint_url"] == "http://near:9000"
    assert specs["primary"][1]["access_key"] == "shared"
    offsite = specs["offsite"][1]
    assert (offsite["endpoint_url"], offsite["access_key"], offsite["secret_key"]) == (
        "http://far:9000", "far-key", "from-a-file")
    assert offsite["part_size"] == 32 * MiB  # the shared options still apply
    assert config.name_of("s3://far/") == "offsite" and config.name_of("s3://else") is None


@pytest.mark.parametrize(("env", "message"), [
    ({"STORES": "offsite"}, "STORES item 'offsite' is not NAME=URL"),
    ({"STORES": "primary=s3://x"}, "a store named 'primary' is already configured"),
    ({"STORES": "a b=s3://x"}, "STORES item 'a b=s3://x': a store name"),
    ({"STORES": "a-b=s3://x,a_b=s3://y"}, "give the same STORE_<NAME>_ variables"),
    ({"STORE_OFSITE_ENDPOINT_URL": "http://x"}, "STORE_OFSITE_ENDPOINT_URL names no "
                                                 "configured store"),
    ({"STORE_PRIMARY_REGION": "eu-west-1"}, "STORE_PRIMARY_REGION is set, but store "
                                            "'primary' is file:///var/objects"),
    ({"STORE_URL": "s3://b", "STORE_PRIMARY_REGION_FILE": "/x"},
     "STORE_PRIMARY_REGION_FILE: only the keys are read from files"),
    ({"STORE_URL": "s3://b", "STORE_PRIMARY_CHECKSUM_MODE": "always"},
     "STORE_PRIMARY_CHECKSUM_MODE='always' must be one of"),
    ({"S3_PART_SIZE_MB": "4"}, "S3_PART_SIZE_MB=4 is below the minimum 5"),
    ({"S3_CONCURRENCY": "two"}, "S3_CONCURRENCY='two' is not an integer"),
    ({"AWS_SECRET_ACCESS_KEY_FILE": "/nonexistent/secret"},
     "AWS_SECRET_ACCESS_KEY_FILE='/nonexistent/secret' cannot be read"),
])
def test_a_bad_variable_is_refused_by_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        read(**env)


def test_a_compute_node_without_store_url_has_no_primary() -> None:
    config = read_store_config({"STORES": "x=s3://b"}, default_url=None, probe_cache_dir="/c")
    assert config.urls == {"x": "s3://b"}
