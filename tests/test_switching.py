"""oc.differences: what changed when one model name was switched, read from the results."""

from __future__ import annotations

import pytest

import openclosed as oc
from openclosed.core.errors import BadInputError
from openclosed.engine.results import Comparison, ErrorInfo, Result


def _run(model, family, outputs, notes=(), error=None, tokens=True):
    rs = []
    for i, o in enumerate(outputs):
        r = Result(model, "sentiment", i, f"t{i}", output=o, family=family, answered_by=model,
                   input_tokens=10 if tokens else None, output_tokens=2 if tokens else None,
                   cost_basis="genai-prices" if family == "closed" else "self-hosted server")
        r.notes.extend(notes)
        if error and i == 0:
            r.output, r.error = None, ErrorInfo(error, "it failed")
        rs.append(r)
    return Comparison("sentiment", [model], [f"t{i}" for i in range(len(outputs))], rs, {})


def test_differences_are_read_from_the_results():
    closed = _run("gpt-6-luna", "closed", ["positive", "negative"])
    served = _run("llm-served", "served", ["positive", "Awful"],
                  notes=["the answer was not the requested JSON; took the first label word"],
                  error="MalformedResponse", tokens=False)
    df = oc.differences(closed, served).set_index("model")
    assert df.loc["gpt-6-luna", "answered"] == "2/2" and df.loc["gpt-6-luna", "errors"] == "-"
    assert df.loc["llm-served", "answered"] == "1/2" and df.loc["llm-served", "errors"] == "MalformedResponse x1"
    assert "not the requested JSON" in df.loc["llm-served", "fallbacks and notes"]
    assert df.loc["gpt-6-luna", "token counts"] == "reported" and df.loc["llm-served", "token counts"] == "none"
    assert df.loc["llm-served", "price"] == "self-hosted server"
    with pytest.raises(BadInputError):
        oc.differences("not a run")
