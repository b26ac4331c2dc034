"""What a chat model reads and how sure it was of each token: the data
behind ``oc.chat_template``, ``oc.look_inside`` and
``oc.next_token_distribution``, with their HTML (readable in JupyterLab
and in a saved notebook: hover texts are plain ``title`` attributes).
(Used in ``02b_inside_chat_models.ipynb``.)

Also the sampling arithmetic, on a real next-token distribution:

* temperature ``T`` divides the logits before the softmax: ``p_i ∝ exp(z_i / T)``;
  below 1 it sharpens the distribution, above 1 it flattens it;
* top-p (nucleus) keeps the most probable tokens until their probabilities
  add up to at least ``p``, and samples only among those (the same rule as
  transformers' ``TopPLogitsWarper``: at least one token is always kept).
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from .results import ErrorInfo

STYLE = """<style>
.oc-tok{display:inline;padding:1px 1px;margin:0 1px;border-radius:3px;white-space:pre-wrap;font-family:monospace;
font-size:13px;line-height:1.9;cursor:help}
.oc-tpl{white-space:pre-wrap;background:#f6f6f6;border:1px solid #ddd;padding:6px;font-size:12px}
.oc-cols{display:flex;gap:16px;align-items:flex-start;flex-wrap:wrap}
.oc-col{flex:1 1 320px;max-width:560px;border:1px solid #ddd;padding:6px}
.oc-err{color:#a40000;background:#fff0f0}
.oc-meta{color:#666;font-size:11px}
</style>"""


def visible(token: str) -> str:
    """A token with its whitespace made visible (space ·, newline ↵, tab →)."""
    return token.replace(" ", "·").replace("\n", "↵\n").replace("\t", "→")


def prob_colour(p: float) -> str:
    """Background for a token with probability ``p``: red (unsure) through yellow to green (sure)."""
    p = min(1.0, max(0.0, p))
    hue = 120 * p  # 0 red, 60 yellow, 120 green
    return f"hsl({hue:.0f}, 75%, 80%)"


def softmax_t(logits, temperature: float):
    """Probabilities from ``logits`` (a 1-D float tensor) at ``temperature`` (> 0), in float32."""
    if temperature <= 0:
        raise ValueError("temperature must be > 0 here (0 means greedy: always the top token)")
    return (logits.float() / temperature).softmax(-1)


def top_p_kept(probs_desc: list[float], top_p: float) -> int:
    """How many of the tokens (probabilities sorted high to low) top-p keeps:
    the fewest whose probabilities add up to at least ``top_p`` (always >= 1)."""
    total, n = 0.0, 0
    for p in probs_desc:
        if n >= 1 and total >= top_p:
            break
        total += p
        n += 1
    return max(1, n)


@dataclass
class TokenStep:
    """One generated token: its text, id, the model's probability for it, and the most likely alternatives."""

    text: str
    token_id: int | None
    prob: float | None
    top: list[tuple[str, float]] = field(default_factory=list)  # (token text, probability), most likely first

    def title(self) -> str:
        head = f"{self.text!r}: p = {self.prob:.3f}" if self.prob is not None else f"{self.text!r}"
        alts = "\n".join(f"{'→' if t == self.text else '  '} {t!r}  {p:.3f}" for t, p in self.top)
        return head + ("\ntop alternatives:\n" + alts if alts else "")


@dataclass
class TokenTrace:
    """One model's answer token by token (``steps``), with who answered and how.
    ``error`` is set (and ``steps`` may be empty) when the model could not be asked."""

    model: str
    family: str
    prompt: str
    steps: list[TokenStep] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    answered_by: str = ""
    source: str = ""  # how the probabilities were obtained
    notes: list[str] = field(default_factory=list)
    error: ErrorInfo | None = None

    @property
    def text(self) -> str:
        return "".join(s.text for s in self.steps)

    @property
    def mean_prob(self) -> float | None:
        ps = [s.prob for s in self.steps if s.prob is not None]
        return sum(ps) / len(ps) if ps else None

    @property
    def table(self):
        """One row per generated token: position, token, probability, top alternatives."""
        import pandas as pd

        return pd.DataFrame([{"model": self.model, "position": i, "token": s.text, "token id": s.token_id,
                              "probability": s.prob,
                              "top alternatives": ", ".join(f"{t!r} {p:.2f}" for t, p in s.top)}
                             for i, s in enumerate(self.steps)])

    def tokens_html(self) -> str:
        spans = []
        for s in self.steps:
            bg = prob_colour(s.prob) if s.prob is not None else "#eee"
            spans.append(f"<span class='oc-tok' style='background:{bg}' title='{html.escape(s.title(), quote=True)}'>"
                         f"{html.escape(visible(s.text))}</span>")
        return "<wbr>".join(spans)  # <wbr>: lines may break between tokens

    def column_html(self) -> str:
        head = f"<b>{html.escape(self.model)}</b> <span class='oc-meta'>({html.escape(self.family)}"
        if self.answered_by and self.answered_by != self.model:
            head += f", answered by {html.escape(self.answered_by)}"
        head += ")</span>"
        body = ""
        if self.error is not None:
            body += (f"<div class='oc-err'><b>{html.escape(self.error.type)}</b>: {html.escape(self.error.message)}"
                     + (f"<br><i>What to do:</i> {html.escape(self.error.hint)}" if self.error.hint else "") + "</div>")
        if self.steps:
            body += f"<div>{self.tokens_html()}</div>"
        meta = [html.escape(self.source)] if self.source else []
        if self.mean_prob is not None:
            meta.append(f"{len(self.steps)} tokens, mean probability {self.mean_prob:.2f}")
        meta += [html.escape(n) for n in self.notes]
        return f"<div class='oc-col'>{head}{body}<div class='oc-meta'>{' · '.join(meta)}</div></div>"

    def _repr_html_(self) -> str:
        return STYLE + LEGEND + f"<div class='oc-cols'>{self.column_html()}</div>"

    def __repr__(self) -> str:
        if self.error is not None:
            return f"<TokenTrace {self.model}: {self.error}>"
        return f"<TokenTrace {self.model}: {len(self.steps)} tokens, {self.text[:60]!r}>"


LEGEND = ("<div class='oc-meta'>Each token is coloured by the probability the model gave it: "
          + "".join(f"<span class='oc-tok' style='background:{prob_colour(p)}'>{p:.1f}</span>" for p in (0.0, 0.25, 0.5, 0.75, 1.0))
          + " — hover over a token for the top alternatives.</div>")


@dataclass
class Inside:
    """Several models' token traces for the same prompt, shown side by side."""

    prompt: str
    traces: list[TokenTrace]

    def __getitem__(self, model: str) -> TokenTrace:
        for t in self.traces:
            if t.model == model:
                return t
        raise KeyError(f"no trace for {model!r}; models here: {', '.join(t.model for t in self.traces)}")

    @property
    def table(self):
        """One row per (model, generated token)."""
        import pandas as pd

        frames = [t.table for t in self.traces if t.steps]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def summary(self):
        """One row per model: tokens, mean and lowest token probability, error."""
        import pandas as pd

        rows = []
        for t in self.traces:
            ps = [s.prob for s in t.steps if s.prob is not None]
            rows.append({"model": t.model, "family": t.family, "answered by": t.answered_by, "tokens": len(t.steps),
                         "mean probability": t.mean_prob, "lowest probability": min(ps) if ps else None,
                         "error": t.error.type if t.error else ""})
        return pd.DataFrame(rows)

    def _repr_html_(self) -> str:
        return (STYLE + f"<div><b>prompt</b>: {html.escape(self.prompt)}</div>" + LEGEND
                + "<div class='oc-cols'>" + "".join(t.column_html() for t in self.traces) + "</div>")

    def __repr__(self) -> str:
        return "\n".join(repr(t) for t in self.traces)


@dataclass
class ChatTemplate:
    """What a chat model really reads: the ``messages`` turned into one text
    by the model's chat template (``text``, exactly), and that text as tokens."""

    model: str
    messages: list[dict[str, str]]
    text: str
    token_ids: list[int]
    tokens: list[str]  # each token decoded on its own
    special: list[bool]  # whether each token is a special (control) token

    @property
    def table(self):
        import pandas as pd

        return pd.DataFrame({"token": self.tokens, "id": self.token_ids, "special": self.special})

    def tokens_html(self) -> str:
        out = []
        for k, (t, i, sp) in enumerate(zip(self.tokens, self.token_ids, self.special, strict=True)):
            bg = "#ffd8a8" if sp else ("#dbe9ff" if k % 2 == 0 else "#e6f4d7")
            out.append(f"<span class='oc-tok' style='background:{bg}' title='token {k}: id {i}{' (special)' if sp else ''}'>"
                       f"{html.escape(visible(t))}</span>")
        return "<wbr>".join(out)

    def _repr_html_(self) -> str:
        n_special = sum(self.special)
        return (STYLE + f"<div><b>{html.escape(self.model)}</b> reads this text (its chat template applied to "
                f"{len(self.messages)} message{'s' * (len(self.messages) != 1)}):</div>"
                f"<pre class='oc-tpl'>{html.escape(self.text)}</pre>"
                f"<div>… which is {len(self.token_ids)} tokens ({n_special} special, in orange; "
                "· is a space, ↵ a newline; hover for the id):</div>"
                f"<div>{self.tokens_html()}</div>")

    def __repr__(self) -> str:
        return f"<ChatTemplate {self.model}: {len(self.token_ids)} tokens>\n{self.text}"


@dataclass
class NextTokenDistribution:
    """The model's distribution over the next token after a prompt, at several
    temperatures, and which tokens top-p keeps at each. ``table``: the top-k
    tokens with ``p@T=...`` and ``kept@T=...`` columns."""

    model: str
    prompt: str
    temperatures: tuple[float, ...]
    top_p: float
    table: Any
    kept: dict[float, int]  # temperature -> how many tokens top-p keeps (of the whole vocabulary)
    mass_shown: dict[float, float]  # temperature -> probability mass of the tokens in the table
    vocab_size: int
    notes: list[str] = field(default_factory=list)

    def _repr_html_(self) -> str:
        rows = "".join(f"<li>T = {t:g}: top-p {self.top_p:g} keeps <b>{self.kept[t]:,}</b> token"
                       f"{'s' * (self.kept[t] != 1)} of {self.vocab_size:,}; the {len(self.table)} shown hold "
                       f"{self.mass_shown[t]:.1%} of the probability</li>" for t in self.temperatures)
        return (STYLE + f"<div><b>{html.escape(self.model)}</b>: the next token after the prompt</div><ul>{rows}</ul>"
                + self.table.to_html(index=False, float_format=lambda x: f"{x:.3f}"))

    def __repr__(self) -> str:
        kept = ", ".join(f"T={t:g}: {self.kept[t]:,}" for t in self.temperatures)
        return (f"<NextTokenDistribution {self.model}: tokens top-p {self.top_p:g} keeps ({kept}) of {self.vocab_size:,}>\n"
                + self.table.to_string(index=False))


__all__ = ["ChatTemplate", "Inside", "NextTokenDistribution", "TokenStep", "TokenTrace", "prob_colour", "softmax_t",
           "top_p_kept", "visible"]
