"""The published JSON Schemas (docs/schema/) describe what `klaster clear` reads and writes."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from matching import clear, clear_document
from matching.jsonio import problem_from_dict, result_to_dict

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((Path(__file__).parent / "examples").glob("*.json"))


def schema(name: str) -> dict:
    return json.loads((ROOT / "docs" / "schema" / f"{name}.schema.json").read_text())


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_examples_and_results_match_the_schemas(path: Path) -> None:
    data = json.loads(path.read_text())
    jsonschema.validate(data, schema("problem"))
    jsonschema.validate(clear_document(data), schema("result"))


@pytest.mark.parametrize("seed", range(3))
def test_several_interval_problems_and_results_match_the_schemas(seed: int) -> None:
    from tests.matching.multi_support import random_problem

    data = random_problem(seed, n_blocks=3)
    data["blocks"][0]["group"] = 7  # an integer group id
    jsonschema.validate(data, schema("problem"))
    out = clear_document(data)
    assert out["status"] == "optimal"
    jsonschema.validate(out, schema("result"))
    # a single-interval result is not a several-interval one and the other way round
    single = json.loads(EXAMPLES[0].read_text())
    several_result = schema("result")["$defs"]["several"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(clear_document(single), several_result)


def test_problem_schema_refuses_what_the_several_interval_parser_refuses() -> None:
    from matching import ProblemError
    from tests.matching.multi_support import random_problem

    data = random_problem(0)
    data["storage"][0]["efficiency_charge"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema("problem"))
    with pytest.raises(ProblemError, match=r"storage\[0\]\.efficiency_charge"):
        clear_document(data)
    data = random_problem(0)
    data["storage"][0]["efficency_charge"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema("problem"))


def test_problem_schema_rejects_what_the_parser_rejects() -> None:
    data = json.loads(EXAMPLES[0].read_text())
    data["orders"][0]["side"] = "hold"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema("problem"))


def test_problem_schema_refuses_unknown_fields_like_the_parser() -> None:
    from matching import ProblemError

    data = json.loads(EXAMPLES[5].read_text())
    data["network"]["lines"][0]["reactence"] = data["network"]["lines"][0].pop("reactance")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema("problem"))
    with pytest.raises(ProblemError, match="reactence"):
        problem_from_dict(data)


def test_result_schema_requires_the_flow_model() -> None:
    data = json.loads(EXAMPLES[0].read_text())
    problem = problem_from_dict(data)
    out = result_to_dict(problem, clear(problem))
    del out["flow_model"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(out, schema("result"))
