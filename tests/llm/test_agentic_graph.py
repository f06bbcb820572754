"""The agentic planning loop in the graph with scripted models: tool calls
validated before they run, errors answered as tool messages, bounded
steps, required calls for ignored studies, every call in provenance."""

from __future__ import annotations

import json

from agent.backends.llm import LLMBackend, LLMUnavailable
from agent.runner import analyze
from tests.llm.scripted import Reply, ScriptedClient, cooperative, scripted_backend


def _tool_messages(request: dict) -> list[dict]:
    return [m for m in request["messages"] if m["role"] == "tool"]


def test_cooperative_model_plans_calls_and_drafts_a_grounded_report(toy_registry, ecg_case, tmp_path):
    backend = scripted_backend()
    out = analyze([ecg_case], None, tmp_path / "out", backend=backend, retrieval=False)
    r = out.report
    assert [c.requested_by for c in r.provenance.tool_calls] == ["llm"]
    assert r.provenance.plan[0] == "llm: toy_ecg_qt(ecg-1) — requested by the model"
    assert any(line.startswith("llm: planning finished after 2 turns") for line in r.provenance.plan)
    assert r.grounding.composer == "scripted" and not r.grounding.fell_back and r.grounding.sentences_removed == 0
    assert "[M:ecg-1.heart_rate]" in r.narrative[0] and r.impression[0].statement_ids == ["ecg-1.lbbb"]
    # two planning turns (calls, then 'done') and one draft
    assert backend.usage.calls == 3 and r.provenance.llm_calls == 3 and r.provenance.llm_tokens == backend.usage.tokens > 0
    second = backend.client.requests[1]
    result = json.loads(_tool_messages(second)[0]["content"])
    assert result["study_id"] == "ecg-1" and {m["id"] for m in result["measurements"]} >= {"ecg-1.qrs_duration"}
    # the schema the model saw: study ids as an enum, no path options
    props = backend.client.requests[0]["tools"][0]["function"]["parameters"]["properties"]
    assert props["study_id"]["enum"] == ["ecg-1"] and "qtc_formula" in props and "weights_path" not in props


def test_bad_calls_are_refused_and_answered_as_tool_errors(toy_registry, ecg_case, tmp_path):
    first = Reply("", [("toy_ecg_qt", {"study_id": "ecg-1", "qtc_formula": "bazett"}),
                       ("toy_ecg_qt", {"study_id": "ecg-1", "weights_path": "/tmp/evil.pth"}),
                       ("toy_echo", {"study_id": "echo-1"}),
                       ("toy_ecg_qt", {"study_id": "ecg-7"}),
                       ("toy_ecg_qt", {"study_id": "ecg-1", "qtc_formula": "hodges"}),
                       ("toy_ecg_qt", {"study_id": "ecg-1", "qtc_formula": "fridericia"})])  # fmt: skip
    backend = scripted_backend([first])
    out = analyze([ecg_case], None, tmp_path / "out", backend=backend, retrieval=False)
    r = out.report
    assert len(r.provenance.tool_calls) == 1 and r.provenance.tool_calls[0].options == {"qtc_formula": "bazett"}
    assert {m.name for m in r.measurements()} >= {"qtc_bazett"}
    errors = [m["content"] for m in _tool_messages(backend.client.requests[1])]
    assert errors[0].startswith("{")  # the valid call's result
    assert "not settable option(s): weights_path" in errors[1]  # paths are never the model's to choose
    assert "unknown tool 'toy_echo'" in errors[2]
    assert "'ecg-7' is not a ECG study" in errors[3]
    assert "invalid option qtc_formula" in errors[4]
    assert "already being analysed in this turn" in errors[5]
    assert sum(line.startswith("llm: rejected") for line in r.provenance.plan) == 5


def test_invalid_options_are_refused_with_the_validation_error(toy_registry, ecg_case, tmp_path):
    backend = scripted_backend([Reply("", [("toy_ecg_qt", {"study_id": "ecg-1", "qtc_formula": "hodges"})]),
                                Reply("", [("toy_ecg_qt", {"study_id": "ecg-1", "weights_path": "/x.pth"})])])  # fmt: skip
    out = analyze([ecg_case], None, tmp_path / "out", backend=backend, retrieval=False)
    r = out.report
    turn2 = _tool_messages(backend.client.requests[1])
    assert "invalid option qtc_formula" in turn2[0]["content"]
    # the refused study is still analysed: a required call with defaults
    assert [(c.requested_by, c.options) for c in r.provenance.tool_calls] == [("required", {})]
    assert "required analyses" in backend.client.requests[1]["messages"][-1]["content"]
    turn3 = _tool_messages(backend.client.requests[2])
    assert "not settable option(s): weights_path" in turn3[-1]["content"]


def test_ignored_study_still_runs_and_the_model_sees_its_result(toy_registry, ecg_case, tmp_path):
    backend = scripted_backend([Reply("Nothing to do.")])
    out = analyze([ecg_case], None, tmp_path / "out", backend=backend, retrieval=False)
    r = out.report
    assert [c.requested_by for c in r.provenance.tool_calls] == ["required"]
    assert any(line.startswith("required: toy_ecg_qt(ecg-1)") for line in r.provenance.plan)
    assert r.sections and r.grounding.composer == "scripted"
    assert backend.usage.calls == 2  # the planning turn ended the loop, then one draft


def test_tool_failure_goes_back_to_the_model_which_retries(toy_registry, ecg_case, tmp_path):
    backend = scripted_backend([Reply("", [("toy_ecg_qt", {"study_id": "ecg-1", "fail": True})]),
                                Reply("", [("toy_ecg_qt", {"study_id": "ecg-1"})])])  # fmt: skip
    out = analyze([ecg_case], None, tmp_path / "out", backend=backend, retrieval=False)
    r = out.report
    assert [(c.ok, c.options) for c in r.provenance.tool_calls] == [(False, {"fail": True}), (True, {})]
    err = _tool_messages(backend.client.requests[1])[0]["content"]
    assert err.startswith("ERROR:") and "toy failure" in err
    assert not any("failed" in lim for lim in r.limitations)  # the study has a result
    assert r.measurements()


def test_planning_is_bounded(toy_registry, ecg_case, tmp_path):
    formulas = iter(["bazett", "fridericia", "bazett", "framingham"] * 3)

    def restless(messages, tools, schema):
        if schema is not None:
            return cooperative(messages, tools, schema)
        return Reply("", [("toy_ecg_qt", {"study_id": "ecg-1", "qtc_formula": next(formulas)})])

    backend = scripted_backend(then=restless, max_plan_steps=3)
    out = analyze([ecg_case], None, tmp_path / "out", backend=backend, retrieval=False)
    r = out.report
    assert "llm: step limit reached (3 turns); planning stopped" in r.provenance.plan
    assert len(r.provenance.tool_calls) == 2  # turn 3's call is refused: same options as turn 1's
    assert any("already analysed with these options" in line for line in r.provenance.plan)
    assert len(r.sections) == 1  # one section per study: the latest run's result
    assert "ecg-1: analysed 2 times; the report shows the latest result (all are kept in the case thread)" in r.provenance.plan
    assert {m.name for m in r.measurements()} & {"qtc_fridericia", "qtc_bazett"} == {"qtc_fridericia"}


class DownClient(ScriptedClient):
    def complete(self, messages, **kw):
        self.requests.append(messages)
        raise LLMUnavailable("LLM endpoint http://127.0.0.1:9/v1 is unreachable (ConnectError); is the server running?")


def test_unreachable_model_degrades_to_rules_and_says_so(toy_registry, ecg_case, tmp_path):
    backend = LLMBackend(DownClient(), name="openai")
    out = analyze([ecg_case], None, tmp_path / "out", backend=backend, retrieval=False)
    r = out.report
    assert out.ok and [c.requested_by for c in r.provenance.tool_calls] == ["required"]
    assert r.grounding.composer == "rules" and r.grounding.fell_back
    lims = " ".join(r.limitations)
    assert "could not plan" in lims and "could not draft the report: it was unreachable" in lims and "http://127.0.0.1:9/v1" in lims
    assert len(backend.client.requests) == 1  # once unreachable, the case does not wait for it again
    assert r.provenance.backend == "openai"


def test_langchain_fake_chat_model_with_scripted_tool_calls(toy_registry, ecg_case, tmp_path):
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    from agent.backends.langchain_client import LangChainChatClient

    class ToolCallingFake(GenericFakeChatModel):
        bound: list = []

        def bind_tools(self, tools, **kwargs):
            self.bound.append([t["function"]["name"] for t in tools])
            return self

    draft = {"narrative": ["ECG (ecg-1): QRS duration 148 ms [M:ecg-1.qrs_duration]."],
             "impression": [{"text": "Complete left bundle branch block.", "kind": "finding", "statement_ids": ["ecg-1.lbbb"],
                             "measurement_ids": ["ecg-1.qrs_duration"], "passage_ids": []}]}  # fmt: skip
    fake = ToolCallingFake(messages=iter([
        AIMessage("", tool_calls=[{"id": "c1", "name": "toy_ecg_qt", "args": {"study_id": "ecg-1", "qtc_formula": "fridericia"}}]),
        AIMessage("Done."),
        AIMessage(json.dumps(draft)),
    ]))  # fmt: skip
    backend = LLMBackend(LangChainChatClient(fake, "fake-chat"), name="langchain")
    out = analyze([ecg_case], None, tmp_path / "out", backend=backend, retrieval=False)
    r = out.report
    assert fake.bound == [["toy_ecg_qt"], ["toy_ecg_qt"]]
    assert r.provenance.tool_calls[0].options == {"qtc_formula": "fridericia"} and r.provenance.tool_calls[0].requested_by == "llm"
    assert r.narrative == draft["narrative"] and r.grounding.sentences_removed == 0
    assert r.provenance.llm_model == "fake-chat"
