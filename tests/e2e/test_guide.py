"""Every example in docs/writing-functions.md compiles, reaches READY and returns the
output its comment promises — through the gateway, builder, consumer and runners."""

from __future__ import annotations

import pytest

from tools.guide import examples

EXAMPLES = examples()


def test_the_guide_has_echo_and_add_in_every_language():
    from common.contracts import LANGUAGES

    per_language = {}
    for example in EXAMPLES:
        per_language.setdefault(example["language"], []).append(example["output"])
    assert set(per_language) == set(LANGUAGES)
    for outputs in per_language.values():
        assert any("sum" in output for output in outputs)  # add
        assert any("message" in output for output in outputs)  # echo


def test_the_guide_reads_env_and_a_secret_in_every_language_with_wasi_or_an_import():
    configured = {e["language"] for e in EXAMPLES if "env" in e and "secrets" in e}
    assert configured == {"python", "c", "zig", "assemblyscript"}


@pytest.fixture(scope="module")
def registered(api):
    """All examples registered at once, so the builder compiles them back to back."""
    ids = {}
    for example in EXAMPLES:
        response = api.post(
            "/functions",
            json={
                "name": example["name"],
                "language": example["language"],
                "source": example["source"],
                "route": example.get("route"),  # web functions also answer at /fn/{route}
                # configuration examples (SPEC §12) run with their env and secrets
                **{k: example[k] for k in ("env", "secrets") if k in example},
            },
        )
        assert response.status_code == 201, response.text
        ids[example["name"]] = response.json()["id"]
    return ids


@pytest.mark.parametrize(
    "example", EXAMPLES, ids=[f"{e['name']}-{e['language']}" for e in EXAMPLES]
)
def test_guide_example_compiles_and_returns_its_output(api, registered, example):
    fid = registered[example["name"]]
    fn = api.wait_for_status(fid, {"READY", "FAILED"}, timeout=240)
    assert fn["status"] == "READY", fn["compileError"]
    response = api.post(f"/functions/{fid}/execute", json={"input": example["input"]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["errorMessage"]) == ("COMPLETED", None)
    assert body["output"] == example["output"]


WEB_EXAMPLES = [e for e in EXAMPLES if "route" in e]


def test_the_guide_has_a_web_function_per_language():
    from common.contracts import LANGUAGES

    assert {e["language"] for e in WEB_EXAMPLES} == set(LANGUAGES)


@pytest.mark.parametrize(
    "example", WEB_EXAMPLES, ids=[f"{e['name']}-{e['language']}" for e in WEB_EXAMPLES]
)
def test_guide_web_function_answers_at_its_route(api, registered, example):
    """The request the example's input describes, sent to /fn/{route}: the response is
    the example's output (a statusCode object, or 200 JSON of any other output)."""
    fid = registered[example["name"]]
    assert api.wait_for_status(fid, {"READY", "FAILED"}, timeout=240)["status"] == "READY"
    event, output = example["input"], example["output"]
    response = api.session.request(
        event["method"],
        api.base + event["path"],
        params=event["query"],
        timeout=30,
        data=event["body"].encode(),
        headers=event["headers"],
    )
    if isinstance(output, dict) and "statusCode" in output:
        assert response.status_code == output["statusCode"]
        assert response.text == output.get("body", "")
        for name, value in output.get("headers", {}).items():
            assert response.headers[name] == value
    else:
        assert response.status_code == 200
        assert response.json() == output
    assert response.headers["X-Nil-Execution-Id"]
