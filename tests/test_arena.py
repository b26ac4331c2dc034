"""The blind arena: Bradley-Terry ratings (hand-checkable cases, recovery of
known strengths, bootstrap coverage), vote files and their merge, and arena
rounds end to end with API contestants on an in-process fake endpoint."""

from __future__ import annotations

import json
import math
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import openclosed as oc
from openclosed.core.errors import BadInputError, BadParameterError
from openclosed.engine.ratings import bradley_terry, simulate_votes, win_probability, win_rate_matrix
from openai_fakes import FAKE_KEY, FakeAPI, register_fake, smart, stream_response, use_key

THREE_TO_ONE = 400 * math.log10(3)  # 190.85 points: the rating gap for 3:1 odds


def votes(*rows):
    return [dict(model_a=a, model_b=b, winner=w) for a, b, w in rows]


# ------------------------------------------------------------------ hand-checkable
def test_three_wins_in_four_is_three_to_one_odds_whatever_the_sides():
    v = votes(("x", "y", "A"), ("x", "y", "A"), ("y", "x", "B"), ("y", "x", "A"))
    r = bradley_terry(v, reg=0, rounds=0)
    assert r.rating("x") - r.rating("y") == pytest.approx(THREE_TO_ONE, abs=0.05)
    assert (r.rating("x") + r.rating("y")) / 2 == pytest.approx(1000, abs=1e-6)  # anchored: mean 1000
    assert win_probability(r.rating("x"), r.rating("y")) == pytest.approx(0.75, abs=1e-4)
    assert list(r.table["contestant"]) == ["x", "y"]
    row = r.table.set_index("contestant").loc["x"]
    assert (row["votes"], row["wins"], row["losses"], row["ties"]) == (4, 3, 1, 0)


def test_a_tie_is_half_a_win_for_each_side():
    with_tie = bradley_terry(votes(("x", "y", "A"), ("x", "y", "tie")), reg=0, rounds=0)
    # one win + one tie = 1.5 of 2 = 75%: the same 3:1 gap as three wins in four
    assert with_tie.rating("x") - with_tie.rating("y") == pytest.approx(THREE_TO_ONE, abs=0.05)
    even = bradley_terry(votes(("x", "y", "tie"), ("x", "y", "tie"), ("y", "x", "tie")), reg=0, rounds=0)
    assert even.rating("x") == pytest.approx(even.rating("y"), abs=1e-6)


def test_both_bad_counts_as_a_tie_by_default_or_is_dropped_and_said_so():
    v = votes(("x", "y", "A"), ("x", "y", "both bad"))
    as_tie = bradley_terry(v, reg=0, rounds=0)
    assert as_tie.rating("x") - as_tie.rating("y") == pytest.approx(THREE_TO_ONE, abs=0.05)
    assert as_tie.table.set_index("contestant").loc["x", "both bad"] == 1
    dropped = bradley_terry(v + votes(("y", "x", "B")), reg=0.05, rounds=0, both_bad="drop")
    assert dropped.table.set_index("contestant").loc["y", "both bad"] == 1  # still counted
    assert any("'both bad' votes left out" in n for n in dropped.notes)
    # dropped: x won both remaining votes, so it is ahead by far more than 3:1
    assert dropped.rating("x") - dropped.rating("y") > 2 * THREE_TO_ONE


def test_anchor_fixes_one_contestant_and_keeps_the_gaps():
    v = votes(("x", "y", "A"), ("x", "y", "A"), ("y", "x", "A"), ("z", "y", "A"), ("z", "x", "tie"))
    free = bradley_terry(v, rounds=0)
    anchored = bradley_terry(v, rounds=0, anchor="y", anchor_rating=1200)
    assert anchored.rating("y") == pytest.approx(1200)
    for a, b in (("x", "y"), ("z", "x")):
        assert anchored.rating(a) - anchored.rating(b) == pytest.approx(free.rating(a) - free.rating(b), abs=1e-6)


def test_the_weak_prior_barely_moves_a_real_result_but_keeps_a_clean_sweep_finite():
    v = votes(("x", "y", "A"), ("x", "y", "A"), ("x", "y", "A"), ("x", "y", "B"))
    assert bradley_terry(v, rounds=0).rating("x") - bradley_terry(v, reg=0, rounds=0).rating("x") == pytest.approx(0, abs=1.0)
    sweep = bradley_terry(votes(*[("x", "y", "A")] * 10), rounds=0)
    gap = sweep.rating("x") - sweep.rating("y")
    assert 400 < gap < 3000 and np.isfinite(gap)


def test_win_rate_matrix_by_hand():
    v = votes(("x", "y", "A"), ("y", "x", "A"), ("y", "x", "tie"), ("x", "z", "B"))
    rates, games = win_rate_matrix(v)
    assert rates.loc["x", "y"] == pytest.approx(0.5) and rates.loc["y", "x"] == pytest.approx(0.5)
    assert rates.loc["z", "x"] == 1.0 and rates.loc["x", "z"] == 0.0
    assert games.loc["x", "y"] == 3 and games.loc["y", "z"] == 0 and np.isnan(rates.loc["y", "z"])


# ------------------------------------------------------------------ known strengths
TRUE = {"a": 1150.0, "b": 1075.0, "c": 1000.0, "d": 925.0, "e": 850.0}  # mean 1000, like the fit's anchor


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_recovers_the_order_of_known_strengths(seed):
    sim = simulate_votes(TRUE, 3000, seed=seed)
    r = bradley_terry(sim, rounds=0)
    assert list(r.table["contestant"]) == list(TRUE)  # best first, exactly the true order
    for name, true in TRUE.items():
        assert abs(r.rating(name) - true) < 40


def test_the_intervals_cover_the_true_strengths_in_most_runs():
    covered, total, widths = 0, 0, []
    for seed in range(10):
        r = bradley_terry(simulate_votes(TRUE, 400, seed=100 + seed), rounds=100, seed=seed)
        t = r.table.set_index("contestant")
        for name, true in TRUE.items():
            covered += bool(t.loc[name, "lower"] <= true <= t.loc[name, "upper"])
            total += 1
            widths.append(t.loc[name, "upper"] - t.loc[name, "lower"])
    assert covered / total >= 0.85, f"95% intervals covered the truth only {covered}/{total} times"
    assert 20 < np.median(widths) < 300  # informative, not degenerate


def test_bootstrap_is_seeded_and_simulated_votes_are_labelled():
    sim = simulate_votes(TRUE, 200, seed=5)
    assert sim["simulated"].all() and (sim["voter"] == "simulated").all()
    one, two = bradley_terry(sim, rounds=50, seed=3), bradley_terry(sim, rounds=50, seed=3)
    pd.testing.assert_frame_equal(one.table, two.table)
    assert one.simulated and "SIMULATED" in one._repr_html_()
    other = bradley_terry(sim, rounds=50, seed=4)
    assert not np.allclose(one.table["lower"], other.table["lower"])


@pytest.mark.parametrize("bad, fix", [
    (votes(("x", "y", "left")), "use one of"),
    (votes(("x", "x", "A")), "cannot be compared with itself"),
    ([], "vote in the arena"),
    ([{"model_a": "x", "winner": "A"}], "model_b"),
])
def test_bad_votes_are_refused_with_the_fix(bad, fix):
    with pytest.raises(BadInputError) as err:
        bradley_terry(bad)
    assert fix in str(err.value)


def test_bad_fit_options_are_refused():
    v = votes(("x", "y", "A"))
    with pytest.raises(BadInputError, match="'tie'"):
        bradley_terry(v, both_bad="ignore")
    with pytest.raises(BadInputError, match="has no votes"):
        bradley_terry(v, anchor="z")


# ------------------------------------------------------------------ arena rounds and vote files
@pytest.fixture
def two_fakes(monkeypatch):
    """Two closed contestants on in-process fake endpoints that answer differently (a fake key)."""
    use_key(monkeypatch)
    left = FakeAPI(smart(text=("Rain", "bows", " bend", " light", ".")))
    right = FakeAPI(smart(text=("Sun", " and", " rain", ".")))
    register_fake("fake-one", left, task="text-generation")
    register_fake("fake-two", right, task="text-generation")
    yield left, right
    left.close()
    right.close()


def test_an_arena_round_is_blind_until_the_vote_and_the_vote_file_has_everything(two_fakes, tmp_path):
    contestants = [oc.contestant("fake-one", temperature=0.7), oc.contestant("fake-two", name="two", temperature=0.2)]
    arena = oc.Arena(contestants, seed=3, votes_dir=tmp_path / "votes", voter="ada lovelace", max_tokens=16)
    rnd = arena.new_round("Explain rainbows.")
    assert {rnd.answer_a.output, rnd.answer_b.output} == {"Rainbows bend light.", "Sun and rain."}
    with pytest.raises(BadInputError, match="vote first"):
        rnd.reveal()
    rec = arena.vote("A")
    revealed = rnd.reveal()
    assert revealed["A"]["contestant"] == rnd.contestant_a.name and revealed["B"]["contestant"] == rnd.contestant_b.name
    # the answer on the left really came from the contestant revealed on the left
    expected = {"fake-one": "Rainbows bend light.", "two": "Sun and rain."}
    assert rnd.answer_a.output == expected[rnd.contestant_a.name]
    path = tmp_path / "votes" / "ada-lovelace.jsonl"
    assert arena.votes_file == path
    saved = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(saved) == 1 and saved[0] == rec
    assert saved[0]["prompt"] == "Explain rainbows." and saved[0]["winner"] == "A"
    assert saved[0]["model_a"] == rnd.contestant_a.name and saved[0]["answer_a"] == rnd.answer_a.output
    assert saved[0]["settings_b"]["model"] == rnd.contestant_b.model and "temperature" in saved[0]["settings_b"]
    assert saved[0]["timestamp"].endswith("+00:00") and saved[0]["simulated"] is False
    # the temperature each contestant asked for is the one its endpoint received
    for fake, name in ((two_fakes[0], "fake-one"), (two_fakes[1], "two")):
        assert fake.bodies()[-1]["temperature"] == {"fake-one": 0.7, "two": 0.2}[name]
    with pytest.raises(BadInputError, match="has a vote already"):
        arena.vote("B")


def test_no_key_ever_reaches_a_vote_file(two_fakes, tmp_path):
    sneaky = oc.contestant("fake-one", name="sneaky", system=f"my key is {FAKE_KEY}")
    arena = oc.Arena([sneaky, oc.contestant("fake-two")], votes_dir=tmp_path, voter="x", max_tokens=8)
    arena.new_round(f"Repeat {FAKE_KEY} please")
    arena.vote("tie")
    text = (tmp_path / "x.jsonl").read_text()
    assert FAKE_KEY not in text and "sk-…cdef" in text


def test_pairs_and_sides_are_random_but_seeded(two_fakes, tmp_path):
    three = [oc.contestant("fake-one", name=f"c{k}", temperature=0.1 * k) for k in range(3)]
    arena1, arena2 = oc.Arena(three, seed=7, save=False), oc.Arena(three, seed=7, save=False)
    assert [arena1.draw_pair() for _ in range(10)] == [arena2.draw_pair() for _ in range(10)]
    seen = {tuple(c.name for c in arena1.draw_pair()) for _ in range(60)}
    assert len(seen) == 6  # every pair turned up in both orders: sides are random too


def test_an_instructor_merges_every_students_file_with_one_call(two_fakes, tmp_path):
    contestants = [oc.contestant("fake-one"), oc.contestant("fake-two")]
    for voter, choice in (("ana", "A"), ("ben", "B"), ("cy", "both bad")):
        arena = oc.Arena(contestants, votes_dir=tmp_path / "collected", voter=voter, max_tokens=8)
        arena.new_round("Hello")
        arena.vote(choice)
    # a file copied twice (same vote ids) is counted once
    (tmp_path / "collected" / "ana-copy.jsonl").write_text((tmp_path / "collected" / "ana.jsonl").read_text())
    merged = oc.merge_votes(tmp_path / "collected")
    assert len(merged) == 3 and set(merged["voter"]) == {"ana", "ben", "cy"}
    assert list(merged["winner"].sort_values()) == ["A", "B", "both bad"]
    board = oc.bradley_terry(merged, rounds=20)
    assert board.votes == 3 and set(board.table["contestant"]) == {"fake-one", "fake-two"}


def test_a_broken_vote_file_names_the_file_and_line(tmp_path):
    (tmp_path / "v").mkdir()
    (tmp_path / "v" / "bad.jsonl").write_text('{"model_a": "x", "model_b": "y", "winner": "A"}\nnot json\n')
    with pytest.raises(BadInputError, match="bad.jsonl line 2"):
        oc.merge_votes(tmp_path / "v")
    with pytest.raises(BadInputError, match="no folder or file"):
        oc.merge_votes(tmp_path / "nowhere")


def test_arena_refuses_bad_setups_before_anything_runs(two_fakes):
    with pytest.raises(BadInputError, match="at least two"):
        oc.Arena([oc.contestant("fake-one")], save=False)
    with pytest.raises(BadParameterError, match="temperature"):
        oc.contestant("fake-one", temperature=9)
    with pytest.raises(oc.OpenClosedError, match="no model called"):
        oc.contestant("no-such-model")
    arena = oc.Arena([oc.contestant("fake-one"), oc.contestant("fake-two")], save=False)
    with pytest.raises(BadParameterError, match="'A', 'B'"):
        arena.vote("left")
    with pytest.raises(BadInputError, match="empty"):
        arena.new_round("   ")
    assert two_fakes[0].count == two_fakes[1].count == 0


def test_a_failed_side_cannot_be_voted_on(tiny_lm_dir, tmp_path):
    """No key: the closed contestant's answer is the missing-key error, and the vote is refused."""
    oc.register("tiny-lm", task="text-generation", path=tiny_lm_dir)
    contestants = [oc.Contestant("open", "tiny-lm", {"temperature": 0.0}),
                   oc.Contestant("closed", "gpt-6-luna", {"temperature": 0.0})]
    arena = oc.Arena(contestants, votes_dir=tmp_path, voter="v", max_tokens=4)
    rnd = arena.new_round("Hi")
    failed = rnd.answer_a if rnd.contestant_a.name == "closed" else rnd.answer_b
    assert failed.error.type == "MissingKeyError"
    with pytest.raises(BadInputError, match="no complete answer"):
        arena.vote("A")
    assert not (tmp_path / "v.jsonl").exists()


def test_offline_contestants_are_one_model_at_labelled_settings():
    cs = oc.arena_contestants()
    assert len(cs) == 4 and {c.model for c in cs} == {"smollm2-135m"}
    assert all(c.name.startswith("smollm2-135m · ") for c in cs)
    assert len({json.dumps(c.params, sort_keys=True) for c in cs}) == 4
    assert all("same model" in c.note for c in cs)


def test_panel_plays_a_round_votes_and_draws_the_board(two_fakes, tmp_path):
    panel = oc.ArenaPanel(contestants=[oc.contestant("fake-one"), oc.contestant("fake-two")],
                          votes_dir=tmp_path, voter="p", max_tokens=8)
    assert all(b.disabled for b in panel.vote_buttons.values())
    panel.prompt.value = "Explain rainbows."
    rnd = panel.new_round()
    assert "fake-one" not in panel.side_a.value + panel.side_b.value  # blind
    assert rnd.answer_a.output in panel.side_a.value and not any(b.disabled for b in panel.vote_buttons.values())
    panel.vote_buttons["B"].click()
    assert rnd.winner == "B" and rnd.contestant_b.name in panel.reveal.value
    assert panel.ratings is not None and panel.ratings.votes == 1
    assert len(panel.board.outputs) == 2  # the leaderboard and the win-rate heat map
    figures = [o["data"]["application/vnd.plotly.v1+json"] for o in panel.board.outputs]  # drawn in the widget
    assert figures[0]["layout"]["title"]["text"].startswith("Leaderboard from 1 vote:")
    assert {d["type"] for f in figures for d in f["data"]} == {"scatter", "heatmap"}
    assert (tmp_path / "p.jsonl").exists()
    # the votes file travels as a download link (no shared disk on Binder), byte for byte
    import base64
    import re as _re

    link = _re.search(r"download='p.jsonl' href='data:application/x-ndjson;base64,([^']+)'", panel.status.value)
    assert link and base64.b64decode(link.group(1)) == (tmp_path / "p.jsonl").read_bytes()


def test_plots_show_intervals_and_say_simulated():
    r = bradley_terry(simulate_votes(TRUE, 300, seed=1), rounds=30)
    fig = oc.leaderboard_plot(r)
    bar = fig.data[0]
    assert list(bar.x) == list(r.table["contestant"])
    assert np.allclose(np.array(bar.y) + np.array(bar.error_y.array), r.table["upper"])
    assert np.allclose(np.array(bar.y) - np.array(bar.error_y.arrayminus), r.table["lower"])
    assert "SIMULATED" in fig.layout.title.text
    heat = oc.winrate_plot(r).data[0]
    assert np.allclose(np.nan_to_num(np.array(heat.z, dtype=float) + np.array(heat.z, dtype=float).T, nan=1.0), 1.0)


def test_the_rating_difference_has_its_own_bootstrap_interval():
    v = oc.simulate_votes({"a": 1060, "b": 1000, "c": 1040}, 300, seed=0)
    board = oc.bradley_terry(v, rounds=100, seed=0)
    d, low, high = board.difference("a", "b")
    assert low <= d <= high and d == pytest.approx(board.rating("a") - board.rating("b"))
    back = board.difference("b", "a")
    assert back[0] == pytest.approx(-d) and back[1] == pytest.approx(-high) and back[2] == pytest.approx(-low)
    t = board.table.set_index("contestant")
    # here the two separate intervals overlap, yet the difference's interval excludes 0: the order is supported
    assert t.loc["b", "upper"] > t.loc["a", "lower"] and low > 0


# ------------------------------------------------------------------ intervals with few votes
def test_one_vote_still_has_interval_bars_and_says_it_needs_more_votes():
    r = bradley_terry(votes(("x", "y", "A")), rounds=50)
    t = r.table.set_index("contestant")
    assert (t["upper"] - t["lower"] > 400).all()  # one vote settles nothing: wide bars, not dots
    assert not t["enough"].any() and any("needs more votes" in n for n in r.notes)
    fig = oc.leaderboard_plot(r)
    assert min(fig.data[0].error_y.array) > 200 and min(fig.data[0].error_y.arrayminus) > 200
    assert all("needs more votes" in label for label in fig.layout.xaxis.ticktext)
    many = bradley_terry(simulate_votes(TRUE, 400, seed=1), rounds=30)
    assert many.table["enough"].all()
    assert not any("needs more votes" in label for label in oc.leaderboard_plot(many).layout.xaxis.ticktext)


def test_the_curvature_never_narrows_a_bootstrap_interval():
    sim = simulate_votes(TRUE, 400, seed=2)
    r = bradley_terry(sim, rounds=60, seed=1)
    boot = r.samples
    t = r.table.set_index("contestant")
    for name in TRUE:
        assert t.loc[name, "lower"] <= np.percentile(boot[name], 2.5) + 1e-9
        assert t.loc[name, "upper"] >= np.percentile(boot[name], 97.5) - 1e-9


# ------------------------------------------------------------------ both answers at once
def test_answers_cut_by_the_limit_end_at_a_sentence_or_say_so():
    from openclosed.engine.results import Result
    from openclosed.session.arena import shown_answer, whole_sentences

    assert whole_sentences("One. Two! Three is cut") == "One. Two!"
    assert whole_sentences('He said "yes." Then') == 'He said "yes."'
    assert whole_sentences("v1.2 is out and") == ""  # a dot inside a word ends nothing
    r = Result(model="m", task="text-generation", input_index=0, input="p", output="One. Two is cut",
               output_tokens=12, finish_reason="length")
    assert shown_answer(r) == ("One.", "cut at the 12-token limit: the unfinished last sentence is not shown")
    r.output = "No sentence ends here"
    text, note = shown_answer(r)
    assert text.endswith("…") and "cut at the 12-token limit" in note
    r.finish_reason = "stop"
    assert shown_answer(r) == ("No sentence ends here", "")


def test_one_model_at_two_settings_answers_both_sides_in_one_batched_generate(tiny_lm_dir, tmp_path):
    oc.register("tiny-lm", task="text-generation", path=tiny_lm_dir, replace_existing=True)
    greedy = oc.Contestant("greedy", "tiny-lm", {"temperature": 0.0})
    hot = oc.Contestant("hot", "tiny-lm", {"temperature": 1.5, "top_p": 0.9, "system": "Be brief."})
    arena = oc.Arena([greedy, hot], votes_dir=tmp_path, voter="v", max_tokens=12, seed=2)
    pushes = []
    rnd = arena.new_round("Hello there", on_partial=lambda side, text: pushes.append(side))
    # both sides arrive in every push: they were generated together, not one after the other
    assert pushes and pushes[::2] == ["A"] * (len(pushes) // 2) and pushes[1::2] == ["B"] * (len(pushes) // 2)
    for r in (rnd.answer_a, rnd.answer_b):
        assert r.ok and r.output_tokens and "one batched generate" in " ".join(r.notes)
    # the greedy row is exactly the greedy answer on its own (left padding changes nothing)
    alone = oc.compare("text-generation", ["tiny-lm"], ["Hello there"], max_tokens=12, temperature=0.0,
                       cache="off", progress=False).result("tiny-lm", 0)
    mine = rnd.answer_a if rnd.contestant_a.name == "greedy" else rnd.answer_b
    assert mine.output == alone.output
    arena.vote("tie")
    assert json.loads((tmp_path / "v.jsonl").read_text())["answer_a"] == rnd.shown("A")[0]


@pytest.fixture
def slow_fakes(monkeypatch):
    """Two closed contestants that trickle their answers (0.2 s a piece, 40 pieces) until told to stop."""
    use_key(monkeypatch)
    halt = threading.Event()
    fakes = [FakeAPI(lambda _req, w=w: stream_response([f"{w}{k} " for k in range(40)], delay=0.2, stop=halt))
             for w in ("left", "right")]
    register_fake("slow-one", fakes[0], task="text-generation")
    register_fake("slow-two", fakes[1], task="text-generation")
    yield fakes
    halt.set()
    for f in fakes:
        f.close()


def test_new_round_streams_both_sides_in_a_thread_and_stop_ends_both(slow_fakes, tmp_path):
    panel = oc.ArenaPanel(contestants=[oc.contestant("slow-one"), oc.contestant("slow-two")],
                          votes_dir=tmp_path, voter="p", max_tokens=64)
    started = time.perf_counter()
    panel.round_button.click()
    assert time.perf_counter() - started < 0.5  # the click returns at once: the kernel is free
    assert panel.thread.is_alive() and not panel.stop_button.disabled and panel.round_button.disabled
    deadline = time.time() + 10
    while not ("left" in panel.side_a.value + panel.side_b.value and "right" in panel.side_a.value + panel.side_b.value):
        assert time.time() < deadline, "both sides should be streaming together"
        time.sleep(0.05)
    assert panel.thread.is_alive()  # still streaming (40 pieces at 0.2 s) while both show text
    panel.stop_button.click()
    panel.thread.join(10)
    assert not panel.thread.is_alive()
    rnd = panel.arena.current
    assert {rnd.answer_a.finish_reason, rnd.answer_b.finish_reason} == {"stopped"}
    assert "Stopped" in panel.status.value and all(b.disabled for b in panel.vote_buttons.values())
    assert not panel.round_button.disabled and panel.stop_button.disabled


def test_the_kernel_answers_another_cell_while_a_round_streams(tmp_path):
    """A real kernel: New round clicked in one cell, the next cell answered while both sides still stream."""
    from jupyter_client.manager import start_new_kernel

    tests_dir = str(Path(__file__).parent)
    km, kc = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        setup = f"""
import sys, threading, time
sys.path.insert(0, {tests_dir!r})
import openclosed as oc
from openai_fakes import FakeAPI, register_fake, stream_response
import os; os.environ["OPENAI_API_KEY"] = "sk-test-0000000000000000000000000000abcdef"
oc.setup(profile="offline", verbose=False)
halt = threading.Event()
for name, w in (("slow-one", "left"), ("slow-two", "right")):
    register_fake(name, FakeAPI(lambda _r, w=w: stream_response([w + str(k) + " " for k in range(50)], delay=0.2,
                  stop=halt)), task="text-generation")
panel = oc.ArenaPanel(contestants=[oc.contestant("slow-one"), oc.contestant("slow-two")], save=False, max_tokens=64)
"""
        reply = kc.execute_interactive(setup, timeout=120)
        assert reply["content"]["status"] == "ok", reply["content"]
        kc.execute_interactive("panel.round_button.click(); t0 = time.perf_counter()", timeout=30)
        t = time.perf_counter()
        out = []
        reply = kc.execute_interactive("print(6 * 7, panel.thread.is_alive(), 'left' in panel.side_a.value + "
                                       "panel.side_b.value or 'right' in panel.side_a.value + panel.side_b.value)",
                                       timeout=10, output_hook=lambda m: out.append(m["content"].get("text", "")))
        answered_s = time.perf_counter() - t
        assert reply["content"]["status"] == "ok" and answered_s < 5
        assert "42 True" in "".join(out)  # answered while the round's thread was still running
        kc.execute_interactive("panel.stop(); panel.thread.join(10); halt.set()", timeout=30)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
