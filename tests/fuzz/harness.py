"""Runs schemathesis cases against the app through the test's own httpx client.

The app's database pool belongs to the test's event loop, so schemathesis's own ASGI transport
(a TestClient with a loop of its own) cannot serve it. Instead Hypothesis runs in a worker
thread and every case is handed to the test's loop to be sent, then checked by schemathesis.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.transport.serialization import serialize_binary

from tests.helpers import ADMIN

BASE_URL = "http://duban.test"
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
PROBLEM_FIELDS = ("type", "title", "status", "code")
REQUEST_TIMEOUT = 60
COVERAGE_CAP = 150  # the largest operation (GET /tasks, 14 parameters) has about that many
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@schemathesis.serializer(DOCX)
def _docx(context, value) -> bytes:
    # schemathesis knows no .docx serializer and would leave the media type out silently; its
    # generated bodies are file samples (zip, PNG, ...) sent as bytes, as for octet-stream.
    return serialize_binary(value)


@dataclass
class Tally:
    examples: dict[str, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    no_invalid_input: list[str] = field(default_factory=list)
    answered: dict[str, Counter] = field(default_factory=dict)
    seconds: float = 0.0

    def summary(self) -> str:
        phases = Counter()
        for label, count in self.examples.items():
            phases[label.rsplit("[", 1)[1].rstrip("]")] += count
        operations = {label.rsplit(" [", 1)[0] for label in self.examples}
        return (f"{len(operations)} operations, {sum(phases.values())} examples "
                f"({', '.join(f'{k} {v}' for k, v in sorted(phases.items()))}), "
                f"{len(self.failures)} failing, {self.seconds:.0f} s; no invalid input exists "
                f"for {', '.join(self.no_invalid_input) or 'none'}")


def check_problem(response: httpx.Response) -> None:
    """Every client error is RFC 9457 problem+json carrying the stable fields."""
    if not 400 <= response.status_code < 500:
        return
    media_type = response.headers.get("content-type", "").split(";")[0].strip()
    assert media_type == "application/problem+json", (
        f"{response.status_code} answered as {media_type!r}: {response.text[:300]}")
    body = response.json()
    missing = [name for name in PROBLEM_FIELDS if name not in body]
    assert not missing, f"{response.status_code} problem lacks {missing}: {response.text[:300]}"
    assert body["status"] == response.status_code, response.text[:300]


def json_fields(spec: dict, operation) -> list[str]:
    """The top-level fields of an operation's JSON body, as its OpenAPI names them."""
    body = spec["paths"][operation.path][operation.method.lower()].get("requestBody", {})
    schema = body.get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return list(schema.get("properties", {}))


class Fuzzer:
    def __init__(self, client: httpx.AsyncClient, loop: asyncio.AbstractEventLoop, spec: dict,
                 known: dict[str, list], examples: dict[GenerationMode, int]) -> None:
        self.client, self.loop, self.spec = client, loop, spec
        self.known, self.examples = known, examples
        self.tally = Tally()

    def send(self, case) -> tuple[httpx.Response, dict]:
        kwargs = case.as_transport_kwargs(base_url=BASE_URL, headers=ADMIN)
        # requests prepares the wire form schemathesis serialized for (multipart, raw bytes,
        # JSON, cookies); httpx then carries exactly those bytes to the app.
        wire = requests.Request(**{k: v for k, v in kwargs.items() if k in (
            "method", "url", "headers", "params", "json", "data", "files", "cookies")}).prepare()
        body = wire.body.encode() if isinstance(wire.body, str) else wire.body
        call = self.client.request(wire.method, wire.url, headers=dict(wire.headers), content=body)
        response = asyncio.run_coroutine_threadsafe(call, self.loop).result(REQUEST_TIMEOUT)
        return response, kwargs

    def check(self, operation, label: str, case) -> None:
        self.tally.examples[label] = self.tally.examples.get(label, 0) + 1
        response, kwargs = self.send(case)
        self.tally.answered.setdefault(operation.label, Counter())[response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=ADMIN, transport_kwargs=kwargs)
        check_problem(response)

    def _with_known_values(self, data, case, operation, mode: GenerationMode) -> None:
        """Half the time, a path or query parameter or top-level body field takes a real value
        of its name: random text is almost never a unit or an id, and would stop at 404/422.
        Optional body fields the generator left out (the office's `unit`) may be put in too."""
        if not mode.is_positive:
            return
        places = [(case.path_parameters or {}, []), (case.query or {}, [])]
        if isinstance(case.body, dict):
            places.append((case.body, json_fields(self.spec, operation)))
        for where, optional in places:
            for name in dict.fromkeys([*where, *optional]):
                real = self.known.get(name)
                if real and data.draw(st.booleans(), label=f"real {name}"):
                    where[name] = data.draw(st.sampled_from(real), label=name)

    def fuzz(self, operation, mode: GenerationMode) -> None:
        label = f"{operation.label} [{mode.value}]"

        @settings(max_examples=self.examples[mode], derandomize=True, database=None,
                  deadline=None, phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
        def run(case, data) -> None:
            self._with_known_values(data, case, operation, mode)
            self.check(operation, label, case)

        try:
            run()
        except Unsatisfiable as exc:
            if mode.is_positive:
                self.tally.failures[label] = f"no valid input could be generated: {exc}"
            else:
                # Nothing in the schema can be made invalid (no parameters, or free-form
                # strings only): named in the summary, not counted as fuzzed.
                self.tally.no_invalid_input.append(operation.label)
        # schemathesis reports its findings as a BaseExceptionGroup; collect every operation's.
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001
            self.tally.failures[label] = f"{type(exc).__name__}: {exc}"[:3000]

    def cover(self, operation) -> None:
        """schemathesis's coverage phase: each boundary value and each way a parameter or body
        can be wrong, derived from the schema without randomness (up to COVERAGE_CAP)."""
        label = f"{operation.label} [coverage]"
        schema = operation.schema
        cases = schema.iter_coverage_cases(
            operation, generation_modes=list(GenerationMode),
            generation_config=schema.config.generation_for(operation=operation))
        try:
            for case in itertools.islice(cases, COVERAGE_CAP):
                self.check(operation, label, case)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001
            self.tally.failures[label] = f"{type(exc).__name__}: {exc}"[:3000]

    def fuzz_all(self, operations) -> Tally:
        started = time.monotonic()
        for operation in operations:
            self.cover(operation)
            for mode in self.examples:
                self.fuzz(operation, mode)
        self.tally.seconds = time.monotonic() - started
        return self.tally
