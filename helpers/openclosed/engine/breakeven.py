"""Break-even between a closed API and self-hosting: what a month of requests
costs each way, and the volume at which self-hosting becomes cheaper.
(Introduced in ``05_cost_privacy_transparency.ipynb``.)

Pure arithmetic on three kinds of input:

* the closed model's price per request, from the dated price table
  (:func:`closed_usd_per_request`, via :mod:`openclosed.engine.pricing`) for
  the input / output lengths you expect;
* the open model's throughput, measured in this lab from a real
  :class:`~openclosed.engine.results.Comparison` (:func:`throughput`): texts/s,
  output tokens/s or images/s on the device that ran it;
* an instance price per hour that you set (:data:`INSTANCES` holds dated
  defaults with their source).

Self-hosting is costed as whole instances kept running all month
(``hours_per_month``, 730 by default), each able to serve
``3600 * hours_per_month * utilisation / seconds_per_request`` requests. So the
self-hosted cost is a staircase and the closed cost a straight line; the
break-even point is where the line first reaches the first step:
``instance $/month / closed $/request``, provided one instance can serve that
many requests (otherwise self-hosting never wins at any volume).

Left out, and said so wherever the numbers are shown: idle and peak-hour
headroom beyond ``utilisation``, engineering and operations time, storage,
network egress, redundancy, and the larger batches (and higher throughput)
a busy server reaches at scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import BadParameterError
from .pricing import api_cost, price_source

HOURS_PER_MONTH = 730.0  # 365 * 24 / 12


@dataclass(frozen=True)
class Instance:
    """A machine you could rent to self-host a model: $/hour, with where and when that price was read."""

    name: str
    kind: str  # "cpu" or "gpu"
    usd_per_hour: float
    as_of: str
    source: str

    def label(self) -> str:
        return f"{self.name}: ${self.usd_per_hour:g}/h (as of {self.as_of}, {self.source})"


_AWS_SOURCE = ("AWS EC2 On-Demand list price, us-east-1, Linux, as quoted in FactualMinds' "
               "'Amazon EC2 On-Demand Pricing' (2026-06-17); check https://aws.amazon.com/ec2/pricing/on-demand/")

INSTANCES: dict[str, Instance] = {
    "cpu": Instance("AWS m7g.large (2 Arm vCPU, 8 GiB, no GPU)", "cpu", 0.0816, "2026-06-17", _AWS_SOURCE),
    "gpu": Instance("AWS g5.xlarge (4 vCPU, 1x NVIDIA A10G 24 GB)", "gpu", 1.006, "2026-06-17", _AWS_SOURCE),
}


def _positive(name: str, value: Any, allow_zero: bool = False) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise BadParameterError(f"{name}={value!r} is not a number", f"pass a number for {name}") from None
    if math.isnan(v) or v < 0 or (v == 0 and not allow_zero) or math.isinf(v):
        raise BadParameterError(f"{name}={value!r} must be {'>= 0' if allow_zero else '> 0'}",
                                f"pass a positive, finite number for {name}")
    return v


def closed_usd_per_request(model_id: str, input_tokens: int, output_tokens: int,
                           provider: str = "openai") -> tuple[float, str]:
    """($ per request, where the price came from) for a closed model at the given lengths."""
    _positive("input_tokens", input_tokens, allow_zero=True)
    _positive("output_tokens", output_tokens, allow_zero=True)
    usd, basis = api_cost(model_id, provider, int(input_tokens), int(output_tokens))
    if usd is None:
        raise BadParameterError(f"no price for {model_id!r}: {basis}",
                                f"set one with oc.set_price({model_id!r}, input_per_mtok, output_per_mtok)")
    return float(usd), basis


def seconds_per_request(*, items_per_s: float | None = None, tokens_per_s: float | None = None,
                        output_tokens: int | None = None) -> float:
    """Busy seconds one request takes on one instance: ``1 / items_per_s`` for
    classifiers and images, ``output_tokens / tokens_per_s`` for generated text
    (prompt reading left out: decoding dominates for chat answers)."""
    if tokens_per_s is not None:
        if output_tokens is None:
            raise BadParameterError("tokens_per_s needs output_tokens", "pass output_tokens= (the answer length)")
        return _positive("output_tokens", output_tokens) / _positive("tokens_per_s", tokens_per_s)
    if items_per_s is None:
        raise BadParameterError("no throughput given", "pass items_per_s= (texts/s, images/s) or tokens_per_s=")
    return 1.0 / _positive("items_per_s", items_per_s)


@dataclass
class BreakEven:
    """Monthly costs of a closed API and of self-hosting, and where they cross.

    ``requests_per_instance``: requests one instance serves in a month;
    ``break_even_requests``: the monthly volume above which self-hosting is
    first cheaper, ``None`` when it never is (one instance's full month of
    work costs less through the API than the instance itself).
    """

    closed_usd_per_request: float
    instance_usd_per_hour: float
    seconds_per_request: float
    hours_per_month: float = HOURS_PER_MONTH
    utilisation: float = 1.0
    notes: list[str] = field(default_factory=list)

    @property
    def instance_usd_per_month(self) -> float:
        return self.instance_usd_per_hour * self.hours_per_month

    @property
    def requests_per_instance(self) -> float:
        return 3600.0 * self.hours_per_month * self.utilisation / self.seconds_per_request

    @property
    def self_hosted_usd_per_request_at_capacity(self) -> float:
        return self.instance_usd_per_month / self.requests_per_instance

    @property
    def break_even_requests(self) -> float | None:
        if self.closed_usd_per_request <= 0:
            return None
        volume = self.instance_usd_per_month / self.closed_usd_per_request
        return volume if volume <= self.requests_per_instance else None

    def instances(self, requests_per_month: float) -> int:
        """Whole instances needed to serve ``requests_per_month`` (at least one)."""
        need = _positive("requests_per_month", requests_per_month, allow_zero=True) / self.requests_per_instance
        return max(1, math.ceil(need - 1e-9))

    def closed_usd(self, requests_per_month: float) -> float:
        return _positive("requests_per_month", requests_per_month, allow_zero=True) * self.closed_usd_per_request

    def self_hosted_usd(self, requests_per_month: float) -> float:
        return self.instances(requests_per_month) * self.instance_usd_per_month

    def at(self, requests_per_month: float) -> dict[str, Any]:
        """Both monthly costs at one volume, which is cheaper and by how much."""
        closed, hosted = self.closed_usd(requests_per_month), self.self_hosted_usd(requests_per_month)
        return {"requests/month": requests_per_month, "closed $/month": closed, "self-hosted $/month": hosted,
                "instances": self.instances(requests_per_month),
                "cheaper": "self-hosted" if hosted < closed else "closed" if closed < hosted else "equal",
                "saving $/month": abs(closed - hosted), "break-even requests/month": self.break_even_requests}

    def curve(self, max_requests: float | None = None, points: int = 200):
        """A DataFrame of both monthly costs from 0 to ``max_requests`` (the staircase's steps included)."""
        import pandas as pd

        top = max_requests or 3 * (self.break_even_requests or self.requests_per_instance)
        top = _positive("max_requests", top)
        xs = {top * i / (points - 1) for i in range(points)}
        k = 1
        while k * self.requests_per_instance < top and k < 500:  # both sides of every step
            xs.update({k * self.requests_per_instance, k * self.requests_per_instance * (1 + 1e-9)})
            k += 1
        rows = [{"requests/month": x, "closed $/month": self.closed_usd(x),
                 "self-hosted $/month": self.self_hosted_usd(x)} for x in sorted(xs) if x <= top]
        return pd.DataFrame(rows)


def break_even(closed_usd_per_request: float, instance_usd_per_hour: float, seconds_per_request: float, *,
               hours_per_month: float = HOURS_PER_MONTH, utilisation: float = 1.0) -> BreakEven:
    """A :class:`BreakEven` from a closed price per request, an instance price
    per hour and the measured busy seconds per request (see
    :func:`seconds_per_request`). ``utilisation`` (0-1]: the share of the
    month an instance is busy (1.0 = flat out, the optimistic bound)."""
    u = _positive("utilisation", utilisation)
    if u > 1:
        raise BadParameterError(f"utilisation={utilisation!r} is above 1", "pass a share between 0 and 1, e.g. 0.6")
    return BreakEven(_positive("closed_usd_per_request", closed_usd_per_request, allow_zero=True),
                     _positive("instance_usd_per_hour", instance_usd_per_hour),
                     _positive("seconds_per_request", seconds_per_request),
                     _positive("hours_per_month", hours_per_month), u)


def throughput(run) -> Any:
    """Throughput measured in this run, one row per model: answered inputs,
    the device they ran on, items/s over the wall-clock span of the fresh
    calls (batches and concurrent calls counted once), output tokens/s (mean
    over inputs) and images/s for image runs. Cached answers are left out:
    they measure nothing here."""
    import pandas as pd

    loaded = run.manifest.get("loaded", {})
    rows = []
    for m in run.models:
        fresh = [r for r in run.results if r.model == m and r.ok and r.cache in ("miss", "off")
                 and r.started_at and r.ended_at]
        span = (max(r.ended_at for r in fresh) - min(r.started_at for r in fresh)) if fresh else 0.0
        tps = [r.tokens_per_s for r in fresh if r.tokens_per_s]
        outs = [r.output_tokens for r in fresh if r.output_tokens]
        endpoint = run.manifest.get("endpoints", {}).get(m, {}).get("endpoint")
        device = loaded.get(m, {}).get("device") or (f"server at {endpoint}" if endpoint else "")
        rows.append({
            "model": m, "family": fresh[0].family if fresh else "", "device": device, "measured inputs": len(fresh),
            "items/s": len(fresh) / span if span > 0 else None,
            "output tokens/s": sum(tps) / len(tps) if tps else None,
            "mean output tokens": sum(outs) / len(outs) if outs else None,
            "random weights": any(r.random_weights or r.stand_in for r in fresh),
        })
    return pd.DataFrame(rows)


__all__ = ["HOURS_PER_MONTH", "INSTANCES", "BreakEven", "Instance", "break_even", "closed_usd_per_request",
           "price_source", "seconds_per_request", "throughput"]
