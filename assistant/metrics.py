"""In-process metrics in the Prometheus text format (served at `/metrics`).

A small registry of our own (counters and histograms with labels) rather than a new dependency: the
app is one process per container; each process exposes its own counts, which Prometheus sums.

What is counted (names as Prometheus sees them):
- `assistant_turns_total{provider,stopped}` and `assistant_turn_seconds{provider}` (histogram): every
  user turn, by who answered and how it ended (`stopped="none"` for a normal answer);
- `assistant_llm_calls_total{provider,model}`, `assistant_llm_tokens_total{provider,model,kind}`
  (input, output, cached) and `assistant_llm_cost_usd_total{provider,model}`: every settled model call,
  the agent's and the tools' (counted where the budget settles it);
- `assistant_budget_refusals_total{limit}`: calls the budget refused;
- `assistant_documents_ingested_total{type}`: bills filed, by document type;
- `assistant_errors_total{kind}`: turns that failed (`provider_error`, `database`, `exception`).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from decimal import Decimal

_lock = threading.Lock()
_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class _Metric:
    def __init__(self, name: str, kind: str, help_text: str, labels: tuple[str, ...]):
        self.name, self.kind, self.help, self.labels = name, kind, help_text, labels
        self.values: dict[tuple[str, ...], float] = defaultdict(float)
        self.buckets: dict[tuple[str, ...], list[int]] = {}
        self.sums: dict[tuple[str, ...], float] = defaultdict(float)

    def _key(self, labels: dict[str, str]) -> tuple[str, ...]:
        return tuple(str(labels.get(n, "")) for n in self.labels)

    def inc(self, amount: float | Decimal | int = 1, **labels: str) -> None:
        with _lock:
            key = self._key(labels)
            self.values[key] = self.values[key] + float(amount)  # Prometheus samples are floats

    def observe(self, value: float, **labels: str) -> None:
        with _lock:
            key = self._key(labels)
            counts = self.buckets.setdefault(key, [0] * len(_BUCKETS))
            for i, bound in enumerate(_BUCKETS):
                if value <= bound:
                    counts[i] += 1
            self.values[key] += 1
            self.sums[key] += value

    def render(self) -> list[str]:
        out = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} {self.kind}"]
        with _lock:
            for key, value in sorted(self.values.items()):
                labels = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(self.labels, key))
                if self.kind == "histogram":
                    for bound, count in zip(_BUCKETS, self.buckets[key]):
                        sep = "," if labels else ""
                        out.append(f'{self.name}_bucket{{{labels}{sep}le="{bound}"}} {count}')
                    sep = "," if labels else ""
                    out.append(f'{self.name}_bucket{{{labels}{sep}le="+Inf"}} {int(value)}')
                    out.append(f"{self.name}_sum{{{labels}}} {self.sums[key]:.6f}")
                    out.append(f"{self.name}_count{{{labels}}} {int(value)}")
                else:
                    out.append(f"{self.name}{{{labels}}} {_number(value)}")
        return out


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)


TURNS = _Metric("assistant_turns_total", "counter", "User turns, by who answered and how they ended.",
                ("provider", "stopped"))
TURN_SECONDS = _Metric("assistant_turn_seconds", "histogram", "Time to answer a user turn.", ("provider",))
LLM_CALLS = _Metric("assistant_llm_calls_total", "counter", "Settled model calls.", ("provider", "model"))
LLM_TOKENS = _Metric("assistant_llm_tokens_total", "counter", "Tokens of settled model calls.",
                     ("provider", "model", "kind"))
LLM_COST = _Metric("assistant_llm_cost_usd_total", "counter", "Cost of settled model calls, USD.",
                   ("provider", "model"))
BUDGET_REFUSALS = _Metric("assistant_budget_refusals_total", "counter", "Model calls the budget refused.",
                          ("limit",))
DOCUMENTS = _Metric("assistant_documents_ingested_total", "counter", "Bills filed, by document type.", ("type",))
ERRORS = _Metric("assistant_errors_total", "counter", "Turns that failed.", ("kind",))
ALL = (TURNS, TURN_SECONDS, LLM_CALLS, LLM_TOKENS, LLM_COST, BUDGET_REFUSALS, DOCUMENTS, ERRORS)


def render() -> str:
    return "\n".join(line for metric in ALL for line in metric.render()) + "\n"


def llm_call(provider: str, model: str, input_tokens: int, output_tokens: int, cached_tokens: int,
             cost: Decimal) -> None:
    LLM_CALLS.inc(provider=provider, model=model)
    for kind, n in (("input", input_tokens), ("output", output_tokens), ("cached", cached_tokens)):
        LLM_TOKENS.inc(n, provider=provider, model=model, kind=kind)
    LLM_COST.inc(cost, provider=provider, model=model)
