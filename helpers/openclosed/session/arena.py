"""A blind arena: two anonymous contestants answer the same prompt, you
vote, and only then see who was who. Votes go to one file per student; the
leaderboard is a Bradley-Terry fit with bootstrap intervals
(:mod:`openclosed.engine.ratings`). (Introduced in ``02b_inside_chat_models.ipynb``.)

    arena = oc.Arena()                     # the contestants this machine can run
    rnd = arena.new_round("Explain rainbows to a child.")
    rnd.answer_a.output, rnd.answer_b.output   # anonymous: "A" (left) and "B" (right)
    arena.vote("A")                        # saved to votes/<you>.jsonl; reveals who was who
    oc.bradley_terry(arena.votes())        # the leaderboard

A contestant is a model *with its settings* (temperature, system prompt):
offline there is one chat model, so the contestants are that model at
different settings, and their names say so. Both answers are written at
once (:mod:`openclosed.session.arena_pair`): one open model at two settings
answers both sides in one batched generate; other pairs run through
:func:`openclosed.compare`, one thread per side. Each answer is measured and
attributed like every other answer. An answer cut by the token limit is
shown up to its last full sentence, or says it was cut (:meth:`Round.shown`).
"""

from __future__ import annotations

import random
import re
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..backends import get_backend
from ..catalog.registry import default_models, get_model
from ..core.errors import BadInputError, BadParameterError
from ..engine.results import Result
from ..engine.votes import VOTE_FIELDS, append_vote, default_voter, merge_votes, safe_name, vote_record
from ..tasks.text_generation import TASK
from .arena_pair import answer_pair
from .availability import available_models
from .setup import get_settings

TASK_NAME = "text-generation"
SAMPLING_T = 0.7  # the temperature contestants sample at unless their settings say otherwise
# offline: one chat model, so the contestants are its settings (each name says what it is)
SETTINGS_VARIANTS = (
    ("greedy", {"temperature": 0.0}),
    ("T=0.7", {"temperature": 0.7, "top_p": 0.95}),
    ("T=1.5", {"temperature": 1.5, "top_p": 1.0}),
    ("T=0.7, 'one sentence'", {"temperature": 0.7, "top_p": 0.95,
                               "system": "Answer in one short sentence."}),
)


@dataclass
class Contestant:
    """A model with fixed settings. ``name`` is what the leaderboard shows."""

    name: str
    model: str
    params: dict[str, Any] = field(default_factory=dict)
    note: str = ""

    def record(self) -> dict[str, Any]:
        return {"contestant": self.name, "model": self.model, **self.params}


def contestant(model: str, name: str | None = None, **params: Any) -> Contestant:
    """A contestant from a catalog model and text-generation settings (checked now, before anything runs)."""
    spec = get_model(model, TASK_NAME)
    TASK.validate(params, get_settings())
    return Contestant(name or spec.label, spec.name, dict(params))


def arena_contestants(profile: str | None = None) -> list[Contestant]:
    """The contestants for this machine: every chat model of the profile that
    can run here (closed ones only with a key), sampling at T=0.7; with fewer
    than two, the one open model at four settings (greedy, T=0.7, T=1.5, and
    T=0.7 told to answer in one sentence), named as such."""
    s = get_settings()
    profile = profile or s.profile
    here = set(available_models(TASK_NAME))
    names = [m for m in default_models(TASK_NAME, profile) if m in here]
    usable = []
    for name in names:
        spec = get_model(name)
        if not get_backend(spec.backend).LOCAL and spec.family == "closed" and s.key(spec.api_key_env or "OPENAI_API_KEY") is None:
            continue  # no key: it would only ever show an error
        usable.append(spec)
    if len(usable) >= 2:
        return [Contestant(spec.label, spec.name, {"temperature": SAMPLING_T, "top_p": 0.95}) for spec in usable]
    open_ones = [spec for spec in usable if get_backend(spec.backend).LOCAL]
    if not open_ones:
        raise BadInputError(f"no chat model can run here in the {profile!r} profile",
                            "add a key for a closed model (oc.ask_for_key()) or use the offline profile")
    spec = open_ones[0]
    return [Contestant(f"{spec.label} · {label}", spec.name, dict(params),
                       note=f"the same model ({spec.name}) at different settings")
            for label, params in SETTINGS_VARIANTS]


SENTENCE_END = re.compile(r"[.!?…](?:[\"'”’)\]]*)(?=\s|$)")


def whole_sentences(text: str) -> str:
    """``text`` up to the end of its last complete sentence ("" when no sentence ends in it)."""
    ends = [m.end() for m in SENTENCE_END.finditer(text)]
    return text[:ends[-1]] if ends else ""


def shown_answer(r: Result) -> tuple[str, str]:
    """(text to show, note): an answer that hit the token limit is trimmed to its last full sentence
    ("… cut at N tokens: the unfinished sentence is not shown"); with no full sentence it is shown whole and
    said to be cut. Answers that ended on their own are shown as they are."""
    text = str(r.output or "")
    if r.finish_reason != "length":
        return text, ""
    n = r.output_tokens
    whole = whole_sentences(text)
    if whole and whole.strip() != text.strip():
        return whole, f"cut at the {n}-token limit: the unfinished last sentence is not shown"
    if whole:
        return text, ""
    return text + " …", f"cut at the {n}-token limit in its first sentence"


@dataclass
class Round:
    """One arena round: the prompt and two anonymous answers (A on the left,
    B on the right). Who was who (``contestant_a``/``contestant_b``) is for
    after the vote: :meth:`reveal`."""

    number: int
    prompt: str
    contestant_a: Contestant
    contestant_b: Contestant
    answer_a: Result
    answer_b: Result
    seed: int
    winner: str | None = None

    @property
    def ok(self) -> bool:
        return self.answer_a.ok and self.answer_b.ok

    def shown(self, side: str) -> tuple[str, str]:
        """(the text shown for ``side`` "A"/"B", a note or ""): an answer cut by the token limit ends at its
        last full sentence, or says it was cut (what the voter read is what the vote file keeps)."""
        r = self.answer_a if side == "A" else self.answer_b
        return shown_answer(r)

    def reveal(self) -> dict[str, Any]:
        """Who was A and who was B, with who really answered (only after the vote)."""
        if self.winner is None:
            raise BadInputError("vote first: the arena is blind until you have voted",
                                "call arena.vote('A' | 'B' | 'tie' | 'both bad')")
        return {side: {"contestant": c.name, "model": c.model, "settings": c.params, "answered_by": r.answered_by,
                       "random weights": r.random_weights or r.stand_in, "tokens": r.output_tokens,
                       "tokens/s": r.tokens_per_s, "cost $": r.cost_usd}
                for side, c, r in (("A", self.contestant_a, self.answer_a), ("B", self.contestant_b, self.answer_b))}


class Arena:
    """Blind pairwise voting between ``contestants`` (default:
    :func:`arena_contestants`). Pairs and sides are drawn at random from a
    generator seeded with ``seed`` (the same seed, the same sequence of
    pairs); sampling contestants get a fresh seed each round from it too.
    Each vote is appended to ``votes_dir/<voter>.jsonl`` (``save=False``
    keeps votes in memory only)."""

    def __init__(self, contestants: list[Contestant] | None = None, *, seed: int = 0, votes_dir: str | Path = "votes",
                 voter: str | None = None, max_tokens: int = 96, save: bool = True) -> None:
        self.contestants = list(contestants) if contestants is not None else arena_contestants()
        names = [c.name for c in self.contestants]
        if len(self.contestants) < 2:
            raise BadInputError("an arena needs at least two contestants", "pass two or more (see oc.arena_contestants())")
        if len(set(names)) != len(names):
            raise BadInputError("two contestants have the same name", "give each contestant its own name")
        TASK.validate({"max_tokens": max_tokens}, get_settings())
        for c in self.contestants:
            get_model(c.model, TASK_NAME)
            TASK.validate(c.params, get_settings())
        self.seed = int(seed)
        self.rng = random.Random(self.seed)
        self.votes_dir = Path(votes_dir)
        self.voter = safe_name(voter) if voter else default_voter()
        self.max_tokens = int(max_tokens)
        self.save = save
        self.rounds: list[Round] = []
        self._votes: list[dict[str, Any]] = []

    @property
    def votes_file(self) -> Path:
        return self.votes_dir / f"{self.voter}.jsonl"

    @property
    def n_votes(self) -> int:
        """How many votes were cast in this arena (this kernel)."""
        return len(self._votes)

    @property
    def current(self) -> Round | None:
        return self.rounds[-1] if self.rounds else None

    def draw_pair(self) -> tuple[Contestant, Contestant]:
        """A random pair, in random sides (A, B)."""
        a, b = self.rng.sample(self.contestants, 2)
        return a, b

    def new_round(self, prompt: str, *, on_partial=None, cancel: threading.Event | None = None) -> Round:
        """Draw a pair and sides, and get both answers at once (:func:`~openclosed.session.arena_pair.answer_pair`:
        one batched generate for one open model at two settings, otherwise a thread per side).
        ``on_partial(side, text)`` streams both; ``cancel`` (a ``threading.Event``) stops both."""
        if not isinstance(prompt, str) or not prompt.strip():
            raise BadInputError("the prompt is empty", "type a question or task for the two models")
        a, b = self.draw_pair()
        seed = self.rng.randrange(2**31)
        answer_a, answer_b = answer_pair(a, b, prompt, seed=seed, max_tokens=self.max_tokens, on_partial=on_partial,
                                         cancel=cancel)
        rnd = Round(len(self.rounds) + 1, prompt, a, b, answer_a, answer_b, seed)
        self.rounds.append(rnd)
        return rnd

    def vote(self, winner: str, round: Round | None = None) -> dict[str, Any]:  # noqa: A002 - the natural name
        """Vote on the latest round (or ``round``): ``"A"`` (left), ``"B"``
        (right), ``"tie"`` or ``"both bad"``. Returns the saved vote, which
        names both contestants."""
        if winner not in ("A", "B", "tie", "both bad"):
            raise BadParameterError(f"vote {winner!r} is not one of 'A', 'B', 'tie', 'both bad'",
                                    "vote 'A' for the left answer, 'B' for the right one")
        rnd = round or self.current
        if rnd is None:
            raise BadInputError("no round to vote on", "start one with arena.new_round(prompt)")
        if rnd.winner is not None:
            raise BadInputError(f"round {rnd.number} has a vote already ({rnd.winner!r})", "start a new round")
        if not rnd.ok:
            bad = [f"{side}: {r.error}" for side, r in (("A", rnd.answer_a), ("B", rnd.answer_b)) if not r.ok]
            raise BadInputError("a side has no complete answer, so a vote would not compare the models ("
                                + "; ".join(bad) + ")", "start a new round")
        rec = vote_record(
            id=uuid.uuid4().hex, voter=self.voter, prompt=rnd.prompt, model_a=rnd.contestant_a.name,
            model_b=rnd.contestant_b.name, winner=winner, settings_a=rnd.contestant_a.record(),
            settings_b=rnd.contestant_b.record(), answer_a=rnd.shown("A")[0], answer_b=rnd.shown("B")[0],
            answered_by_a=rnd.answer_a.answered_by, answered_by_b=rnd.answer_b.answered_by, arena_seed=self.seed,
            round=rnd.number, simulated=False)
        rnd.winner = winner
        self._votes.append(rec)
        if self.save:
            append_vote(self.votes_dir, self.voter, rec)
        return rec

    def votes(self):
        """This arena's votes (this kernel) as a DataFrame; ``oc.merge_votes(folder)`` reads everyone's."""
        import pandas as pd

        return pd.DataFrame(self._votes, columns=list(VOTE_FIELDS))

    def saved_votes(self):
        """Every vote in this arena's votes folder (all students' files that were put there)."""
        return merge_votes(self.votes_dir)

    def __repr__(self) -> str:
        return (f"<Arena: {len(self.contestants)} contestants, {len(self.rounds)} rounds, {len(self._votes)} votes; "
                f"votes to {self.votes_file if self.save else '(memory only)'}>")


__all__ = ["Arena", "Contestant", "Round", "arena_contestants", "contestant"]
