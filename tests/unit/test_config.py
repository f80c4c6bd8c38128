"""Config: defaults, file, environment precedence, the port rule and every validation error."""

from __future__ import annotations

import os

import pytest
import yaml

from scheduler0 import config
from scheduler0.errors import ConfigError


def write(tmp_path, text: str) -> str:
    path = tmp_path / "config.yml"
    path.write_text(text)
    return str(path)


def test_defaults_need_no_file():
    s = config.load({}, None)
    assert (s.host, s.port, s.node_id) == ("127.0.0.1", 9091, 1)
    assert s.data_dir == "./scheduler0-data"
    assert s.raft_address == "127.0.0.1:10091"
    assert s.intake_address == "127.0.0.1:11091"
    assert s.replicas == ()


def test_file_overrides_defaults_and_env_overrides_file(tmp_path):
    path = write(tmp_path, "Port: 9200\nMaxMemory: 1000\nLogLevel: debug\n")
    s = config.load({"SCHEDULER0_MAX_MEMORY": "3000"}, path)
    assert s.port == 9200
    assert s.max_memory == 3000
    assert s.log_level == "DEBUG"


def test_env_names_are_upper_snake_of_keys():
    assert config.env_name("HTTPExecutorPayloadMaxSizeMb") == "SCHEDULER0_HTTP_EXECUTOR_PAYLOAD_MAX_SIZE_MB"
    assert config.env_name("NodeId") == "SCHEDULER0_NODE_ID"
    s = config.load({"SCHEDULER0_HTTP_EXECUTOR_PAYLOAD_MAX_SIZE_MB": "2.5"}, None)
    assert s.http_executor_payload_max_size_mb == 2.5


def test_port_rule_derives_raft_and_intake_from_port(tmp_path):
    s = config.load({"SCHEDULER0_PORT": "9300"}, None)
    assert s.raft_address == "127.0.0.1:10300"
    assert s.intake_address == "127.0.0.1:11300"


def test_three_nodes_from_the_minimal_keys(tmp_path):
    replicas = [{"NodeId": i, "Address": f"http://127.0.0.1:{9090 + i}",
                 "RaftAddress": f"127.0.0.1:{10090 + i}"} for i in (1, 2, 3)]
    ports = set()
    for i in (1, 2, 3):
        doc = {"Host": "127.0.0.1", "Port": 9090 + i, "NodeId": i, "Bootstrap": i == 1,
               "RaftAddress": f"127.0.0.1:{10090 + i}", "Replicas": replicas,
               "DataDir": str(tmp_path / f"n{i}")}
        s = config.load({}, write(tmp_path, yaml.safe_dump(doc)))
        assert s.is_cluster and len(s.peers()) == 2
        ports |= {s.port, s.raft_address, s.intake_address}
        assert {r.intake_address for r in s.replicas} == {"127.0.0.1:11091", "127.0.0.1:11092",
                                                          "127.0.0.1:11093"}
    assert len(ports) == 9  # no two nodes share a port


def test_replicas_from_env_json():
    s = config.load({"SCHEDULER0_REPLICAS": '[{"Address": "http://127.0.0.1:9091", '
                     '"RaftAddress": "127.0.0.1:10091", "NodeId": 1}]'}, None)
    assert s.replicas[0].raft_address == "127.0.0.1:10091"


@pytest.mark.parametrize(
    ("text", "env", "fragments"),
    [
        ("Port: eighty\n", {}, ["Port", "'eighty'", "1-65535"]),
        ("Port: 70000\n", {}, ["Port", "70000"]),
        ("MaxMemory: 10\n", {}, ["MaxMemory", "10", "64-1048576"]),
        ("MaxWorkers: 2.5\n", {}, ["MaxWorkers", "2.5"]),
        ("Bootstrap: maybe\n", {}, ["Bootstrap", "maybe", "true or false"]),
        ("LogLevel: LOUD\n", {}, ["LogLevel", "LOUD", "DEBUG"]),
        ("DefaultTimezone: Mars/Base\n", {}, ["DefaultTimezone", "Mars/Base", "IANA"]),
        ("RaftAddress: nowhere\n", {}, ["RaftAddress", "nowhere", "host:port"]),
        ("CallbackAllowedNetworks: [banana]\n", {}, ["CallbackAllowedNetworks", "banana"]),
        ("Colour: blue\n", {}, ["Colour", "unknown"]),
        ("Port: [\n", {}, ["not valid YAML"]),
        ("- a\n- b\n", {}, ["mapping"]),
        ("", {"SCHEDULER0_JOB_EXECUTION_TIMEOUT": "soon"}, ["JobExecutionTimeout", "soon"]),
        ("", {"SCHEDULER0_REPLICAS": "not json"}, ["SCHEDULER0_REPLICAS", "JSON"]),
        ("NodeId: 4\nReplicas: [{NodeId: 1, Address: 'http://h:1', RaftAddress: 'h:2'}]\n", {},
         ["NodeId", "4", "Replicas"]),
        ("Replicas: [{NodeId: 1}]\n", {}, ["Replicas", "lacks", "address"]),
    ],
)
def test_bad_values_name_key_value_and_what_is_accepted(tmp_path, text, env, fragments):
    with pytest.raises(ConfigError) as caught:
        config.load(env, write(tmp_path, text))
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_unreadable_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot be read"):
        config.load({}, str(tmp_path / "missing.yml"))
    path = write(tmp_path, "Port: 9091\n")
    os.chmod(path, 0)
    if os.access(path, os.R_OK):  # root reads anything; the missing-file case covers it
        return
    with pytest.raises(ConfigError, match="cannot be read"):
        config.load({}, path)


def test_legacy_keys_load_and_are_reported(tmp_path):
    s = config.load({}, write(tmp_path, "RaftTransportMaxPool: 3\nPort: 9400\n"))
    assert s.port == 9400
    assert s.ignored_keys == ("RaftTransportMaxPool",)


def test_rendered_default_file_loads_back_to_the_defaults(tmp_path):
    path = write(tmp_path, config.render_default_yaml())
    assert config.load({}, path) == config.load({}, None)
    text = config.render_default_yaml()
    for key in config.KEYS:
        assert key.yaml_name in text
