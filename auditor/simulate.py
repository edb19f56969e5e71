"""The built-in example study: a simulated personalization audit with a known ground truth.

SIMULATED DATA.  The generator is calibrated to the published figures of "Re-Centering Humans in LLM
Personalization" (arXiv 2606.06614): about 54.6% of personalized responses are "no better" than the generic one for
humans, human mean rating 3.18 on the 1-5 scale, LLM judges more lenient (mean ratings 3.41-4.02) with Spearman
0.1-0.4 to humans, and a reward model with Spearman near 0.3.  No text in it was written by a person or a model.

Generative model (one latent variable per item, cut into the 1-5 scale)
-------------------------------------------------------------------------
* ``n_users`` users; user ``k`` has a personalization benefit ``u_k ~ N(0, sd_user**2)``.  Items per user: one each,
  the remaining ``n_items - n_users`` spread by a multinomial with Dirichlet(``user_alpha``) weights, drawn
  independently of every effect, so each item's marginal distribution is the same and the population value of an
  item-level share is well defined.
* Item ``i`` of user ``k``: ``source`` is ``synthetic`` or ``real`` (an exact half split, randomly permuted),
  ``mentions_attribute`` ~ Bernoulli(``p_mention``); latent gain
  ``g_i = mu + u_k + e_i + source_shift * (+1/2 synthetic, -1/2 real) + human_mention_shift * mention``,
  ``e_i ~ N(0, sd_item**2)``.
* Human raters ``rater1..rater3`` rate every item: ``cut(g_i + N(0, sd_rater**2))`` with the thresholds
  ``cuts`` (1 = personalized much worse, 3 = no difference, 5 = personalized much better).
* LLM judge ``J`` (one verdict per item, rater ``"0"``):
  ``y = mu + shift_J + mention_shift_J * mention + scale_J * (rho * z_i + sqrt(1 - rho**2) * w)`` with ``z_i`` the
  standardised item gain, ``rho = rho_J +/- source_rho_shift`` (higher on synthetic items: a synthetic benchmark
  flatters the judge), ``w = sqrt(user_share) * v_kJ + sqrt(1 - user_share) * n_iJ`` (a per-user judge effect, so
  clustering matters for judges too), cut with the same thresholds.
* Reward model ``rm-skywork``: ``score = r_b - r_a = offset + scale * (rho * z_i + sqrt(1 - rho**2) * w)`` and a
  likert label derived from its sign with a tie margin: ``"4"`` if score > margin, ``"2"`` if score < -margin, else
  ``"3"`` (so ``no_better_rate`` means the same for it as for the LLM judges).

Stages 1 and 2
--------------
:func:`simulate_extraction_study` (attribute validity: accept / uncertain / reject, real vs synthetic users) and
:func:`simulate_relevance_study` (binary relevance of (user, prompt, attribute)) follow the same conventions, with
:func:`extraction_truth` and :func:`relevance_truth` as their population values.

The demo should use :data:`DEMO_SEED` (a seed whose sample sits near the population values); any seed is valid.

Ground truth
------------
:func:`truth` returns the population values under the generator, computed once from 2,000,000 simulated items
(cached in memory): ``truth[metric][judge]`` for ``no_better_rate``, ``win_rate``, ``tie_rate``, ``loss_rate``,
``mean_score`` (the reference's per-item label is the median of the 3 human integer ratings, itself an integer),
``mean_rating`` (mean of all individual ratings), the gaps ``*_gap`` (judge minus human median), Cohen's kappa
(unweighted / linear / quadratic on the 5 categories) and Pearson / Spearman of each judge's label to the human
median; under ``judge = "human"`` the agreement values are those of any *pair* of human raters (what each
``raters=a~b`` slice of the audit estimates; the raters are exchangeable), not the leave-one-out human ceiling;
and ``attribute_mention_effect`` (mean label
when the personalized response names the user's attribute minus when it does not: humans about +0.03 on the
median, ``claude-3.5`` about -0.39, as published).  :func:`truth_by_slice` gives the same per ``source``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from auditor.datasets import Study, labels_frame

__all__ = [
    "SimulationParameters",
    "JudgeParameters",
    "simulate_study",
    "simulate_probe_study",
    "PROBE_VARIANTS",
    "truth",
    "CUTS",
    "HUMAN_RATERS",
    "DEMO_SEED",
    "DEMO_UNLABELLED",
]

CUTS = (-1.5, -0.5, 0.0627, 1.0627)
"""Default latent thresholds between the ratings 1|2, 2|3, 3|4, 4|5 (the "no difference" band is narrower than the
rest, so that a 54.6% no-better rate and a 3.18 mean hold together, as in the published figures)."""

HUMAN_RATERS = ("rater1", "rater2", "rater3")

DEMO_SEED = 7

"""Seed for the demo: the first seed in 0-99 whose sample is typical (human no-better rate within 0.015 and human
mean within 0.05 of the population values, every LLM judge's mean within 0.07).  With 50 users the sample values
vary from seed to seed (human no-better rate: standard deviation about 0.025 across seeds), so a demo on an
arbitrary seed may sit away from the calibration targets; the coverage tests use all seeds.

Items per user follow Dirichlet(``user_alpha`` = 20) weights: 11 per user on average (550 / 50, as in the study),
between about 3 and 20.  With far more uneven users (``user_alpha`` = 2: 1 to 57 items per user) every
cluster-robust 95% interval we tried (percentile, BCa, bootstrap-t, jackknife-t) covered the human no-better rate
in only 92-93% of simulated studies: a known limit of 50 clusters of very unequal size."""

DEMO_UNLABELLED = 19_450
"""Conversations of the demo's study that only the judges rated (of 1,768 more users, 11 per user as in the
human-rated part): 20,000 judged conversations, 550 of them human-rated (:func:`simulate_study`'s
``n_unlabelled``)."""

SCALE = (1, 5, 3)
NEUTRAL = 3


@dataclass(frozen=True)
class JudgeParameters:
    """One simulated LLM judge: shift / scale of its latent, correlation ``rho`` to the item gain."""

    name: str
    shift: float
    rho: float
    scale: float = 1.0
    mention_shift: float = 0.0


@dataclass(frozen=True)
class SimulationParameters:
    """Every constant of the generator (the defaults are the calibrated ones)."""

    mu: float = -0.0608
    cuts: tuple[float, float, float, float] = CUTS
    sd_user: float = 0.35
    sd_item: float = 0.836
    sd_rater: float = 0.6
    source_shift: float = 0.2
    p_mention: float = 0.5
    human_mention_shift: float = 0.0233
    user_alpha: float = 20.0
    judge_user_share: float = 0.15
    source_rho_shift: float = 0.08
    judges: tuple[JudgeParameters, ...] = field(
        default_factory=lambda: (
            JudgeParameters("gpt-4o", shift=0.282, rho=0.438, scale=0.95),
            JudgeParameters("claude-3.5", shift=0.710, rho=0.332, scale=1.0, mention_shift=-0.397),
            JudgeParameters("llama-3-70b", shift=0.716, rho=0.199, scale=1.0),
        )
    )
    rm_name: str = "rm-skywork"
    rm_offset: float = 0.4
    rm_scale: float = 1.0
    rm_rho: float = 0.353
    rm_margin: float = 0.25

    @property
    def sd_gain(self) -> float:
        """Standard deviation of the item gain ``g`` (user + item + source + mention parts)."""
        var = (
            self.sd_user**2
            + self.sd_item**2
            + self.source_shift**2 / 4
            + self.human_mention_shift**2 * self.p_mention * (1 - self.p_mention)
        )
        return float(np.sqrt(var))

    @property
    def mean_gain(self) -> float:
        return self.mu + self.human_mention_shift * self.p_mention


DEFAULT_PARAMETERS = SimulationParameters()


# --------------------------------------------------------------------------------------------------------------
# the latent draw, shared by simulate_study and truth


def _cut(latent: np.ndarray, cuts: tuple[float, ...]) -> np.ndarray:
    """Latent values -> integer ratings 1..5 by the thresholds ``cuts``."""
    return (np.searchsorted(np.asarray(cuts), latent) + 1).astype(np.int8)


def _draw(
    rng: np.random.Generator,
    user_of_item: np.ndarray,
    n_users: int,
    synthetic: np.ndarray,
    params: SimulationParameters,
) -> dict[str, np.ndarray]:
    """Draw every rating of the items whose users are ``user_of_item`` (vectorised)."""
    n = len(user_of_item)
    mention = rng.random(n) < params.p_mention
    user_effect = rng.normal(0.0, params.sd_user, n_users)[user_of_item]
    sign = np.where(synthetic, 0.5, -0.5)
    gain = (
        params.mu
        + user_effect
        + rng.normal(0.0, params.sd_item, n)
        + params.source_shift * sign
        + params.human_mention_shift * mention
    )
    humans = _cut(gain[:, None] + rng.normal(0.0, params.sd_rater, (n, len(HUMAN_RATERS))), params.cuts)
    standardised = (gain - params.mean_gain) / params.sd_gain
    share = params.judge_user_share
    out: dict[str, np.ndarray] = {"mention": mention, "gain": gain, "human": humans}

    def noise() -> np.ndarray:
        return np.sqrt(share) * rng.normal(size=n_users)[user_of_item] + np.sqrt(1 - share) * rng.normal(
            size=n
        )

    for judge in params.judges:
        rho = np.clip(judge.rho + params.source_rho_shift * 2 * sign, -1, 1)
        w = noise()
        latent = (
            params.mu
            + judge.shift
            + judge.mention_shift * mention
            + judge.scale * (rho * standardised + np.sqrt(1 - rho**2) * w)
        )
        out[judge.name] = _cut(latent, params.cuts)
        out[f"{judge.name}:noise"] = w  # the judge's own noise, for the probe variants of the same judge
    rho = params.rm_rho
    score = params.rm_offset + params.rm_scale * (rho * standardised + np.sqrt(1 - rho**2) * noise())
    out["rm_score"] = score
    out[params.rm_name] = np.where(
        score > params.rm_margin, 4, np.where(score < -params.rm_margin, 2, 3)
    ).astype(np.int8)
    return out


def _users_of_items(rng: np.random.Generator, n_users: int, n_items: int, alpha: float) -> np.ndarray:
    """Uneven items per user: one each, the rest multinomial with Dirichlet(alpha) weights; sorted by user."""
    if n_items < n_users:
        raise ValueError(f"n_items ({n_items}) must be at least n_users ({n_users})")
    weights = rng.dirichlet(np.full(n_users, alpha))
    counts = 1 + rng.multinomial(n_items - n_users, weights)
    return np.repeat(np.arange(n_users), counts)


# --------------------------------------------------------------------------------------------------------------
# synthetic texts

_WHEN = (
    "this week",
    "next month",
    "for the holidays",
    "before summer",
    "on weekends",
    "after work",
    "in the mornings",
    "over the next year",
)
_BUDGET = (
    "on a tight budget",
    "with some money to spend",
    "with little free time",
    "with plenty of time",
    "as a complete beginner",
    "with some experience",
)
_TOPICS = (
    ("planning a weekend trip", "travel"),
    ("cooking a quick dinner", "cooking"),
    ("starting to run", "fitness"),
    ("writing a cover letter", "career"),
    ("choosing a laptop", "technology"),
    ("saving for a holiday", "finance"),
    ("learning a new language", "learning"),
    ("growing herbs indoors", "gardening"),
    ("sleeping better", "health"),
    ("planning a birthday party", "events"),
    ("reading more books", "hobbies"),
    ("setting up a home office", "home"),
)
_ATTRIBUTES = (  # (third person for the profile, second person for the response)
    ("is vegetarian", "are vegetarian"),
    ("has two young children", "have two young children"),
    ("lives in a small apartment", "live in a small apartment"),
    ("is a student on a tight budget", "are a student on a tight budget"),
    ("works night shifts", "work night shifts"),
    ("is training for a marathon", "are training for a marathon"),
    ("prefers concise answers", "prefer concise answers"),
    ("is learning Spanish", "are learning Spanish"),
    ("uses a wheelchair", "use a wheelchair"),
    ("lives in a rural area", "live in a rural area"),
    ("is a software developer", "are a software developer"),
    ("has a dog", "have a dog"),
    ("is over sixty", "are over sixty"),
    ("is new to the country", "are new to the country"),
)


def _profiles(rng: np.random.Generator, n_users: int) -> list[list[tuple[str, str]]]:
    """Three distinct attributes per user."""
    return [
        [_ATTRIBUTES[j] for j in rng.choice(len(_ATTRIBUTES), size=3, replace=False)] for _ in range(n_users)
    ]


# --------------------------------------------------------------------------------------------------------------
# public API


POSITION_JUDGE = JudgeParameters(name="mistral-large", shift=0.4, rho=0.3, scale=1.0)
"""A lenient judge that sees every pair in both orders (rows with ``order`` ab and ba)."""
POSITION_BIAS = 0.35
"""Latent push toward the response shown first (ab: toward a, ba: toward b, in the original a/b numbering)."""
GENERATORS = ("gpt-4o", "claude-3.5", "llama-3-70b", "mistral-large")
"""Models that wrote the personalized responses (item column ``generator``), uniformly at random."""


def simulate_study(
    seed: int = 0,
    n_users: int = 50,
    n_items: int = 550,
    params: SimulationParameters | None = None,
    with_truth: bool = True,
    n_unlabelled: int = 0,
    unlabelled_users: int | None = None,
) -> Study:
    """Simulate the example personalization study (stage 3: generic ``a`` vs personalized ``b``, 1-5 ratings).

    Parameters
    ----------
    seed
        Seed of ``numpy.random.default_rng``; the same seed gives identical tables.
    n_users, n_items
        Users (clusters) and conversations (items); items per user are uneven (see the module docstring).
    params
        Generator constants; the defaults are calibrated to the published figures.
    with_truth
        Attach :func:`truth` (cached after the first call, which takes a few seconds) as ``Study.truth``.
    n_unlabelled, unlabelled_users
        Conversations of more users (``unlabelled_users``, default as many per user as in the human-rated part)
        rated by the LLM judges of ``params.judges``, the reward model and :data:`TUNED_JUDGE` (which then rates
        the human-rated conversations too) only, no human: the judge-everything,
        label-a-few design of prediction-powered inference.  The ``n_items`` human-rated conversations and their
        ratings are the same as without them; every user is drawn from the same generator, so the human-rated
        users are a random sample of all users.  The demo uses :data:`DEMO_UNLABELLED`.

    Returns
    -------
    Study
        ``task="likert"``, ``scale=(1, 5, 3)``, ``simulated=True``; judges ``human`` (raters ``rater1..3``), the
        LLM judges of ``params.judges`` and the reward model ``rm-skywork`` (label from the sign of ``score``).

    Examples
    --------
    >>> study = simulate_study(seed=1)
    >>> study.items.shape[0], sorted(study.judges)[:2]
    (550, ['claude-3.5', 'gpt-4o'])
    """
    params = params or DEFAULT_PARAMETERS
    rng, user_of_item, synthetic, draw = _stage3_draw(seed, n_users, n_items, params)
    profiles = _profiles(rng, n_users)
    topic_index = rng.integers(0, len(_TOPICS), n_items)

    users = np.array([f"user-{k + 1:02d}" for k in range(n_users)], dtype=object)
    item_ids = np.array([f"conv-{i + 1:04d}" for i in range(n_items)], dtype=object)
    # a detail per conversation (its own random stream: the ratings above do not change), so that no two
    # conversations of a user read the same
    text_rng = np.random.default_rng([seed, 11])
    when = text_rng.integers(0, len(_WHEN), n_items)
    budget = text_rng.integers(0, len(_BUDGET), n_items)
    items = _conversations(
        item_ids, users, user_of_item, profiles, topic_index, when, budget, draw["mention"], synthetic, 0
    )

    blocks = []
    for r, rater in enumerate(HUMAN_RATERS):
        blocks.append(_label_block(item_ids, "human", rater, draw["human"][:, r]))
    for judge in params.judges:
        blocks.append(_label_block(item_ids, judge.name, "0", draw[judge.name]))
    blocks.append(_label_block(item_ids, params.rm_name, "0", draw[params.rm_name], score=draw["rm_score"]))
    # A judge seen in both presentation orders, with a first-position bias, for the position probe; and the model
    # that wrote each personalized response, for the self-preference probe.  Drawn from their own stream, so the
    # tables above are the same as without them.
    side_rng = np.random.default_rng([seed, 7])
    position_judge = POSITION_JUDGE
    standardised = (draw["gain"] - params.mean_gain) / params.sd_gain
    base = params.mu + position_judge.shift + position_judge.scale * position_judge.rho * standardised
    spread = position_judge.scale * np.sqrt(1 - position_judge.rho**2)
    orders = {"ab": -POSITION_BIAS, "ba": +POSITION_BIAS}  # the response shown first looks better
    for order, bias in orders.items():
        latent = base + bias + spread * side_rng.normal(size=n_items)
        block = _label_block(item_ids, position_judge.name, "0", _cut(latent, params.cuts))
        block["order"] = np.full(n_items, order, dtype=object)
        blocks.append(block)
    for block in blocks:
        block.setdefault("order", np.full(len(block["item_id"]), None, dtype=object))
    labels = labels_frame(
        {column: np.concatenate([block[column] for block in blocks]) for column in blocks[0]}
    )
    items["generator"] = side_rng.choice(np.array(GENERATORS, dtype=object), n_items)
    if n_unlabelled:
        more_users = unlabelled_users or max(1, round(n_unlabelled * n_users / n_items))
        more_items, more_labels = _unlabelled_part(seed, n_unlabelled, more_users, n_items, params)
        tuned = _tuned_ratings(np.random.default_rng([seed, 19]), draw["gain"], params)
        tuned_labels = labels_frame(_label_block(item_ids, TUNED_JUDGE.name, "0", tuned))
        items = pd.concat([items, more_items], ignore_index=True)
        labels = pd.concat([labels, tuned_labels, more_labels], ignore_index=True)

    description = (
        "Simulated personalization study (SIMULATED DATA, not real judgments)\n"
        f"{n_users} simulated users, {n_items} simulated conversations, generic (a) vs personalized (b) responses "
        "rated 1-5 (1 = personalized much worse, 3 = no difference, 5 = personalized much better) by 3 simulated "
        "human raters, 3 simulated LLM judges and a simulated reward model. The generator (auditor.simulate) is "
        'calibrated to the published figures of "Re-Centering Humans in LLM Personalization" (arXiv 2606.06614): '
        "human no-better rate about 54.6%, human mean 3.18, LLM judges more lenient (published means 3.41-4.02; "
        "here about 3.50, 3.72 and 3.93) with Spearman 0.15-0.36 to the human median, reward-model Spearman 0.3. "
        "A fourth simulated judge (mistral-large) sees every pair in both presentation orders with a first-position "
        "bias, for the position probe; a generator column names the model that wrote each personalized response. "
        + (
            f"Besides the {n_items} human-rated conversations, {n_unlabelled:,} conversations of other simulated users "
            "were rated by the 3 LLM judges and the reward model only (no human), and all "
            f"{n_items + n_unlabelled:,} by a fifth simulated judge that tracks the humans closely (tuned-judge, "
            "illustrative, not a published value): the human-rated users are a random sample of all, so the "
            "prediction-powered estimates can use every judged conversation. "
            if n_unlabelled
            else ""
        )
        + f"Seed {seed}."
    )
    return Study(
        name="simulated-personalization",
        task="likert",
        items=items,
        labels=labels,
        scale=SCALE,
        aliases={},
        unusable=(),
        simulated=True,
        description=description,
        truth=truth(params) if with_truth else None,
    )


def _conversations(
    item_ids: np.ndarray,
    users: np.ndarray,
    user_of_item: np.ndarray,
    profiles: list[list[tuple[str, str]]],
    topic_index: np.ndarray,
    when: np.ndarray,
    budget: np.ndarray,
    mention: np.ndarray,
    synthetic: np.ndarray,
    first: int,
) -> pd.DataFrame:
    """The items table of simulated conversations (texts built from the draws); ``first``: how many conversations
    come before these (the request number in the texts)."""
    prompts, responses_a, responses_b, profile_texts = [], [], [], []
    for j in range(len(item_ids)):
        i = first + j
        topic, _ = _TOPICS[topic_index[j]]
        attributes = profiles[user_of_item[j]]
        attribute = attributes[i % 3][1]
        detail = f"{_WHEN[when[j]]}, {_BUDGET[budget[j]]} (request {i + 1})"
        prompts.append(f"Can you give me some advice on {topic}, {detail}?")
        responses_a.append(
            f"Here are a few general tips on {topic}, {detail}: start small, plan ahead and keep it simple."
        )
        if mention[j]:
            responses_b.append(
                f"Since you {attribute}, here are tips on {topic}, {detail}, that fit your situation."
            )
        else:
            responses_b.append(
                f"Here are tips on {topic}, {detail}, chosen to fit your situation and routine."
            )
        profile_texts.append("The user " + "; the user ".join(third for third, _ in attributes) + ".")
    return pd.DataFrame(
        {
            "item_id": item_ids,
            "user_id": users[user_of_item],
            "prompt": prompts,
            "response_a": responses_a,
            "response_b": responses_b,
            "profile": profile_texts,
            "source": np.where(synthetic, "synthetic", "real").astype(object),
            "stage": "generation",
            "topic": [_TOPICS[t][1] for t in topic_index],
            "mentions_attribute": mention,
        }
    )


TUNED_JUDGE = JudgeParameters(name="tuned-judge", shift=0.1, rho=0.85, scale=1.0)
"""A judge that tracks the humans closely (illustrative, not a published value: e.g. a judge fine-tuned on earlier
ratings of the same raters); in the study only together with its unlabelled part, where it shows what
prediction-powered inference needs to narrow the humans' interval.  The calibrated judges (Spearman 0.1-0.4 to
the humans) barely narrow it."""


def _tuned_ratings(rng: np.random.Generator, gain: np.ndarray, params: SimulationParameters) -> np.ndarray:
    """:data:`TUNED_JUDGE`'s ratings of items with latent gains ``gain`` (independent noise per item)."""
    judge = TUNED_JUDGE
    standardised = (gain - params.mean_gain) / params.sd_gain
    noise = np.sqrt(1 - judge.rho**2) * rng.normal(size=len(gain))
    return _cut(params.mu + judge.shift + judge.scale * (judge.rho * standardised + noise), params.cuts)


def _unlabelled_part(
    seed: int,
    n_unlabelled: int,
    n_users: int,
    n_labelled: int,
    params: SimulationParameters,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Conversations of ``n_users`` more users (ids ``user-u0001``, ...) that only the LLM judges and the reward
    model rated (items and label rows), from their own random stream and the same generator, so that the
    human-rated users are a random sample of all users (what prediction-powered inference assumes)."""
    rng = np.random.default_rng([seed, 17])
    user_of_item = _users_of_items(rng, n_users, n_unlabelled, params.user_alpha)
    synthetic = rng.permutation(np.arange(n_unlabelled) < n_unlabelled // 2)
    more = _draw(rng, user_of_item, n_users, synthetic, params)
    item_ids = np.array([f"conv-u{j + 1:05d}" for j in range(n_unlabelled)], dtype=object)
    users = np.array([f"user-u{k + 1:04d}" for k in range(n_users)], dtype=object)
    items = _conversations(
        item_ids,
        users,
        user_of_item,
        _profiles(rng, n_users),
        rng.integers(0, len(_TOPICS), n_unlabelled),
        rng.integers(0, len(_WHEN), n_unlabelled),
        rng.integers(0, len(_BUDGET), n_unlabelled),
        more["mention"],
        synthetic,
        n_labelled,
    )
    items["generator"] = rng.choice(np.array(GENERATORS, dtype=object), n_unlabelled)
    blocks = [_label_block(item_ids, judge.name, "0", more[judge.name]) for judge in params.judges]
    blocks.append(_label_block(item_ids, params.rm_name, "0", more[params.rm_name], score=more["rm_score"]))
    blocks.append(_label_block(item_ids, TUNED_JUDGE.name, "0", _tuned_ratings(rng, more["gain"], params)))
    labels = labels_frame(
        {column: np.concatenate([block[column] for block in blocks]) for column in blocks[0]}
    )
    return items, labels


def _stage3_draw(
    seed: int, n_users: int, n_items: int, params: SimulationParameters
) -> tuple[np.random.Generator, np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The first draws of :func:`simulate_study` (users, sources, every rating), shared with the probe study."""
    rng = np.random.default_rng(seed)
    user_of_item = _users_of_items(rng, n_users, n_items, params.user_alpha)
    synthetic = rng.permutation(np.arange(n_items) < n_items // 2)
    return rng, user_of_item, synthetic, _draw(rng, user_of_item, n_users, synthetic, params)


@dataclass(frozen=True)
class ProbeVariant:
    """How one re-judging of the probe study's judge differs from its run with the users' own full profile.

    ``rho``: the variant's correlation to the item gain (what the profile view lets the judge see); ``keep``: the
    correlation of its noise with the base run's noise (the same judge, another prompt); ``profile_tokens``: the
    profile's mean prompt tokens in this view."""

    judge: str  # the suffix of the judge name, e.g. "profile_view=outputs@start"
    rho: float
    keep: float
    profile_tokens: float
    same_as: str | None = None  # the run this one is (persona=removed is the "none" view)


PROBE_JUDGE = "gpt-4o"
"""The simulated judge re-judged under other profile views and personas (a judge of :class:`SimulationParameters`)."""
PROBE_BASE_TOKENS = 430.0
"""Simulated prompt tokens of a judgment without the profile (instructions, request, both responses)."""
PROBE_FULL_PROFILE_TOKENS = 260.0
PROBE_VARIANTS: tuple[ProbeVariant, ...] = (
    ProbeVariant("profile_view=full@start", rho=0.438, keep=1.0, profile_tokens=PROBE_FULL_PROFILE_TOKENS),
    ProbeVariant("profile_view=full@end", rho=0.36, keep=0.85, profile_tokens=PROBE_FULL_PROFILE_TOKENS),
    ProbeVariant("profile_view=outputs@start", rho=0.52, keep=0.85, profile_tokens=150.0),
    ProbeVariant("profile_view=inputs@start", rho=0.27, keep=0.85, profile_tokens=110.0),
    ProbeVariant("profile_view=none@start", rho=0.12, keep=0.75, profile_tokens=0.0),
    ProbeVariant(
        "persona=removed", rho=0.12, keep=0.75, profile_tokens=0.0, same_as="profile_view=none@start"
    ),
    ProbeVariant("persona=swapped", rho=0.06, keep=0.7, profile_tokens=PROBE_FULL_PROFILE_TOKENS),
)
"""Illustrative, not published values: the ordering follows the LaMP profile-role study (the user's past outputs
carry the signal, a profile near the start of the context weighs more); the judge with no profile or another
user's profile barely tracks what this user gains.  ``persona=removed`` is the ``none`` view, as
:func:`auditor.probes.run_variants` makes it."""


def simulate_probe_study(
    seed: int = 0,
    n_users: int = 50,
    n_items: int = 550,
    params: SimulationParameters | None = None,
) -> Study:
    """The stage-3 study of :func:`simulate_study` with its judge :data:`PROBE_JUDGE` re-judged under the profile
    views and persona variants of :data:`PROBE_VARIANTS` (SIMULATED DATA).

    Items and human ratings are those of ``simulate_study(seed)``; the labels hold the humans, the judge with the
    users' own full profile (name ``gpt-4o``, the same verdicts as in the main study) and one judge per variant,
    named as :func:`auditor.probes.run_variants` names them (``gpt-4o|profile_view=outputs@start``,
    ``gpt-4o|persona=swapped``, ...), each row with simulated ``prompt_tokens`` (the token cost of its view).
    Auditing it with ``stage = "generation"`` gives the persona flip rates and a ``profile_view=...`` slice of every
    metric of the judge.

    Examples
    --------
    >>> study = simulate_probe_study(seed=1)
    >>> sorted(j for j in study.judges if j.startswith("gpt-4o|persona"))
    ['gpt-4o|persona=removed', 'gpt-4o|persona=swapped']
    """
    params = params or DEFAULT_PARAMETERS
    base_study = simulate_study(seed=seed, n_users=n_users, n_items=n_items, params=params, with_truth=False)
    _, user_of_item, synthetic, draw = _stage3_draw(seed, n_users, n_items, params)
    judge = next(j for j in params.judges if j.name == PROBE_JUDGE)
    item_ids = base_study.items["item_id"].to_numpy(dtype=object)
    standardised = (draw["gain"] - params.mean_gain) / params.sd_gain
    sign = np.where(synthetic, 0.5, -0.5)
    base_noise = draw[f"{PROBE_JUDGE}:noise"]
    rng = np.random.default_rng([seed, 13])
    profile_words = base_study.items["profile"].str.split().str.len().to_numpy(float)
    profile_scale = profile_words / profile_words.mean()  # longer profiles cost more tokens
    human = base_study.labels[base_study.labels["judge"] == "human"]
    frames = [
        human,
        base_study.labels[base_study.labels["judge"] == PROBE_JUDGE].assign(
            prompt_tokens=np.round(PROBE_BASE_TOKENS + PROBE_FULL_PROFILE_TOKENS * profile_scale).astype(int),
            variant="own profile",
        ),
    ]
    made: dict[str, pd.DataFrame] = {}
    for variant in PROBE_VARIANTS:
        if variant.same_as is not None:
            frames.append(
                made[variant.same_as].assign(judge=f"{PROBE_JUDGE}|{variant.judge}", variant=variant.judge)
            )
            continue
        rho = np.clip(variant.rho + params.source_rho_shift * 2 * sign, -1, 1)
        noise = variant.keep * base_noise + np.sqrt(1 - variant.keep**2) * rng.normal(size=n_items)
        latent = (
            params.mu
            + judge.shift
            + judge.mention_shift * draw["mention"]
            + judge.scale * (rho * standardised + np.sqrt(1 - rho**2) * noise)
        )
        block = labels_frame(
            _label_block(item_ids, f"{PROBE_JUDGE}|{variant.judge}", "0", _cut(latent, params.cuts))
        )
        tokens = PROBE_BASE_TOKENS + variant.profile_tokens * profile_scale + rng.normal(0, 5, n_items)
        made[variant.judge] = block.assign(prompt_tokens=np.round(tokens).astype(int), variant=variant.judge)
        frames.append(made[variant.judge])
    labels = pd.concat(frames, ignore_index=True)
    description = (
        "Simulated persona and profile-view probes (SIMULATED DATA, not real judgments)\n"
        f"The simulated study of seed {seed} ({n_users} users, {n_items} conversations, 3 simulated human raters), "
        f"with its judge {PROBE_JUDGE} re-judged under other profile views (full / outputs / inputs / none, at the "
        "start or the end of the prompt) and persona variants (profile removed, another user's profile swapped in). "
        "The variants' strengths are illustrative, not published values: their ordering follows the LaMP "
        "profile-role study (past outputs carry the personalization signal, profiles near the start weigh more). "
        "Prompt tokens are simulated. Run `auditor probe` against a real endpoint to measure a real judge."
    )
    return replace(base_study, name="simulated-probes", labels=labels, description=description, truth=None)


def _label_block(
    item_ids: np.ndarray, judge: str, rater: str, ratings: np.ndarray, score: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    text = ratings.astype(str).astype(object)
    n = len(item_ids)
    return {
        "item_id": item_ids,
        "judge": np.full(n, judge, dtype=object),
        "rater": np.full(n, rater, dtype=object),
        "label": text,
        "score": np.full(n, np.nan) if score is None else score.astype(float),
        "raw": text if score is None else np.round(score, 6).astype(str).astype(object),
    }


# --------------------------------------------------------------------------------------------------------------
# population values


def _kappa(table: np.ndarray, weights: str | None = None) -> float:
    """Cohen's kappa of a joint probability table (rows: judge, columns: reference) on ordered categories."""
    table = table / table.sum()
    k = table.shape[0]
    idx = np.arange(k)
    if weights is None:
        disagreement = (idx[:, None] != idx[None, :]).astype(float)
    elif weights == "linear":
        disagreement = np.abs(idx[:, None] - idx[None, :]).astype(float)
    else:
        disagreement = ((idx[:, None] - idx[None, :]) ** 2).astype(float)
    expected = np.outer(table.sum(axis=1), table.sum(axis=0))
    return float(1 - (disagreement * table).sum() / (disagreement * expected).sum())


def _pearson(table: np.ndarray, x_values: np.ndarray, y_values: np.ndarray) -> float:
    """Pearson correlation of two discrete variables from their joint probability table."""
    p = table / table.sum()
    px, py = p.sum(axis=1), p.sum(axis=0)
    mx, my = px @ x_values, py @ y_values
    cov = (x_values - mx) @ p @ (y_values - my)
    return float(cov / np.sqrt(px @ (x_values - mx) ** 2 * (py @ (y_values - my) ** 2)))


def _midranks(marginal: np.ndarray) -> np.ndarray:
    """Population mid-ranks (grades) F(x-) + p(x)/2: the large-sample limit of average ranks / n."""
    p = marginal / marginal.sum()
    return np.cumsum(p) - p / 2


def _spearman(table: np.ndarray) -> float:
    """Population Spearman (ties by mid-ranks) from a joint table: Pearson of the grades."""
    return _pearson(table, _midranks(table.sum(axis=1)), _midranks(table.sum(axis=0)))


def _rates(marginal: np.ndarray) -> dict[str, float]:
    """Outcome rates of a rating distribution over 1..5 (neutral 3)."""
    p = marginal / marginal.sum()
    values = np.arange(1, 6)
    return {
        "win_rate": float(p[values > NEUTRAL].sum()),
        "tie_rate": float(p[values == NEUTRAL].sum()),
        "loss_rate": float(p[values < NEUTRAL].sum()),
        "no_better_rate": float(p[values <= NEUTRAL].sum()),
        "mean_score": float(p @ values),
    }


SOURCES = ("real", "synthetic")


def _table_metrics(
    joint: dict[str, np.ndarray], human_pair: np.ndarray, human_all: np.ndarray
) -> dict[str, dict[str, float]]:
    """Population metrics from the accumulated tables (judge x human-median joints, rater-pair joint)."""
    names = list(joint)
    result: dict[str, dict[str, float]] = {}

    def put(metric: str, judge: str, value: float) -> None:
        result.setdefault(metric, {})[judge] = float(value)

    for metric, value in _rates(joint[names[0]].sum(axis=0)).items():
        put(metric, "human", value)
    put("mean_rating", "human", (human_all / human_all.sum()) @ np.arange(1, 6))
    symmetric = human_pair + human_pair.T
    put("cohen_kappa", "human", _kappa(symmetric))
    put("cohen_kappa_linear", "human", _kappa(symmetric, "linear"))
    put("cohen_kappa_quadratic", "human", _kappa(symmetric, "quadratic"))
    put("spearman", "human", _spearman(symmetric))
    values = np.arange(1.0, 6.0)
    for name in names:
        table = joint[name]
        rates = _rates(table.sum(axis=1))
        for metric, value in rates.items():
            put(metric, name, value)
            if metric != "loss_rate":
                put(f"{metric}_gap", name, value - result[metric]["human"])
        put("mean_rating", name, rates["mean_score"])
        put("agreement", name, np.trace(table) / table.sum())
        put("cohen_kappa", name, _kappa(table))
        put("cohen_kappa_linear", name, _kappa(table, "linear"))
        put("cohen_kappa_quadratic", name, _kappa(table, "quadratic"))
        put("pearson", name, _pearson(table, values, values))
        put("spearman", name, _spearman(table))
    return result


@functools.lru_cache(maxsize=8)
def _truth_cached(params: SimulationParameters, n_items: int, seed: int) -> dict:
    """``{"all": metrics, "source=real": metrics, "source=synthetic": metrics}`` from ``n_items`` items."""
    rng = np.random.default_rng(seed)
    names = [judge.name for judge in params.judges] + [params.rm_name]
    joint = {src: {name: np.zeros((5, 5)) for name in names} for src in SOURCES}
    human_pair = {src: np.zeros((5, 5)) for src in SOURCES}
    human_all = {src: np.zeros(5) for src in SOURCES}
    by_mention = {name: np.zeros((2, 2)) for name in [*names, "human"]}  # [no / yes mention] x [sum, count]
    rm_scores, medians = [], []
    chunk = 250_000
    done = 0
    while done < n_items:
        n = min(chunk, n_items - done)
        # every item its own user: the marginal of an item does not depend on how items group into users
        synthetic = rng.random(n) < 0.5
        draw = _draw(rng, np.arange(n), n, synthetic, params)
        ratings = draw["human"].astype(np.int16)
        median = (ratings.sum(axis=1) - ratings.max(axis=1) - ratings.min(axis=1)).astype(np.int8)  # of 3
        for src, mask in (("real", ~synthetic), ("synthetic", synthetic)):
            for name in names:
                joint[src][name] += _crosstab(draw[name][mask], median[mask])
            for a, b in ((0, 1), (0, 2), (1, 2)):
                human_pair[src] += _crosstab(draw["human"][mask, a], draw["human"][mask, b])
            human_all[src] += np.bincount(draw["human"][mask].ravel(), minlength=6)[1:]
        mention = draw["mention"].astype(np.int64)
        for name, values in [*((name, draw[name]) for name in names), ("human", median)]:
            by_mention[name][:, 0] += np.bincount(mention, weights=values.astype(float), minlength=2)
            by_mention[name][:, 1] += np.bincount(mention, minlength=2)
        if done < 500_000:  # rank correlations of the continuous score: the first 500,000 items suffice
            rm_scores.append(draw["rm_score"])
            medians.append(median)
        done += n

    result = _table_metrics(
        {name: joint["real"][name] + joint["synthetic"][name] for name in names},
        human_pair["real"] + human_pair["synthetic"],
        human_all["real"] + human_all["synthetic"],
    )
    for name, sums in by_mention.items():
        means = sums[:, 0] / sums[:, 1]
        result.setdefault("attribute_mention_effect", {})[name] = float(means[1] - means[0])
    # the reward model's continuous score against the human median
    scores = np.concatenate(rm_scores)
    median_all = np.concatenate(medians)
    result["score_spearman"] = {params.rm_name: _spearman_large(scores, median_all)}
    result["score_pearson"] = {params.rm_name: float(np.corrcoef(scores, median_all)[0, 1])}
    result["mean_score_value"] = {params.rm_name: float(scores.mean())}
    out = {"all": result}
    for src in SOURCES:
        out[f"source={src}"] = _table_metrics(joint[src], human_pair[src], human_all[src])
    return out


def _crosstab(rows: np.ndarray, columns: np.ndarray) -> np.ndarray:
    """5 x 5 counts of two rating vectors on 1..5."""
    flat = 5 * (rows.astype(np.int64) - 1) + (columns.astype(np.int64) - 1)
    return np.bincount(flat, minlength=25).reshape(5, 5).astype(float)


def _spearman_large(x: np.ndarray, y: np.ndarray) -> float:
    from scipy.stats import rankdata

    return float(np.corrcoef(rankdata(x), rankdata(y))[0, 1])


def truth(params: SimulationParameters | None = None, n_items: int = 2_000_000, seed: int = 20260606) -> dict:
    """Population values of the study's metrics under the generator: ``truth[metric][judge]``.

    Computed once per ``(params, n_items, seed)`` from ``n_items`` simulated items and cached in memory; the
    reference label of an item is the median of its 3 human integer ratings.  Metrics: ``no_better_rate``,
    ``win_rate``, ``tie_rate``, ``loss_rate``, ``mean_score`` (of the per-item label: a judge's rating, the humans'
    median), ``mean_rating`` (humans: mean of all single ratings), ``*_gap`` (judge minus human median),
    ``agreement``, ``cohen_kappa`` (unweighted, ``_linear``, ``_quadratic``), ``pearson`` and ``spearman`` of the
    judge's label to the human median (human: pairwise between raters), and for the reward model
    ``score_spearman`` / ``score_pearson`` of its continuous score to the human median (from the first 500,000
    items) and ``mean_score_value``.  Monte-Carlo error is about 0.0004 for the rates and 0.001 for kappa.  Returns a fresh copy.
    """
    params = params or DEFAULT_PARAMETERS
    cached = _truth_cached(params, n_items, seed)["all"]
    return {metric: dict(values) for metric, values in cached.items()}


def truth_by_slice(
    params: SimulationParameters | None = None, n_items: int = 2_000_000, seed: int = 20260606
) -> dict[str, dict[str, dict[str, float]]]:
    """Population values within each source: ``{"source=real": {metric: {judge: value}}, "source=synthetic": ...}``.

    Items are synthetic or real with probability 1/2 each (an exact half split in a simulated study).  The
    generator makes personalization help more on synthetic items and the LLM judges track humans more closely
    there (a synthetic benchmark flatters the judge); the synthetic-minus-real difference of a metric is the
    difference of the two slices' values.  Same cache as :func:`truth`.
    """
    params = params or DEFAULT_PARAMETERS
    cached = _truth_cached(params, n_items, seed)
    return {
        key: {metric: dict(values) for metric, values in metrics.items()}
        for key, metrics in cached.items()
        if key != "all"
    }


def with_parameters(**changes: object) -> SimulationParameters:
    """A copy of the calibrated parameters with some constants changed (e.g. for sensitivity checks)."""
    return replace(DEFAULT_PARAMETERS, **changes)


# ==============================================================================================================
# stages 1 and 2 of the personalization pipeline (simulated, same conventions: known truth, seeded, fast)

STAGE1_CATEGORIES = ("accept", "uncertain", "reject")
PROBLEMATIC = ("uncertain", "reject")


@dataclass(frozen=True)
class ExtractionParameters:
    """Stage 1 (attribute extraction): validity latent ``v``, cut at ``cuts`` into reject < uncertain < accept.

    ``v = mu + real_shift * real + u_user + e_item``; each human rater sees ``v + N(0, sd_rater**2)``; an LLM judge
    sees ``v + shift + N(0, sd_judge**2)`` (a positive ``shift`` = lenient: it flags fewer problems).
    """

    mu: float = 1.14
    real_shift: float = -0.149
    sd_user: float = 0.35
    sd_item: float = 0.8
    sd_rater: float = 0.6
    cuts: tuple[float, float] = (-0.2, 0.6)
    attributes_mean: float = 8.0
    judges: tuple[tuple[str, float, float], ...] = (("gpt-4o", 0.25, 0.8), ("claude-3.5", 0.45, 0.7))


@dataclass(frozen=True)
class RelevanceParameters:
    """Stage 2 (relevance): latent ``r = mu + p_prompt + e_item``; a human rater votes relevant when
    ``r + N(0, sd_rater**2) > 0``; LLM judge ``j`` when ``r + shift_j + sd_llm * (sqrt(shared) * s + sqrt(1 - shared)
    * n_j) > 0`` with ``s`` common to the LLMs (they agree with each other more than with humans)."""

    mu: float = -0.932
    sd_prompt: float = 0.5
    sd_item: float = 0.866
    sd_rater: float = 0.71
    sd_llm: float = 0.86
    shared: float = 0.629
    prompts_mean: float = 3.0
    attributes_mean: float = 8.0
    judges: tuple[tuple[str, float], ...] = (("gpt-4o", 0.666), ("claude-3.5", 0.933), ("llama-3-70b", 1.196))


DEFAULT_EXTRACTION = ExtractionParameters()
DEFAULT_RELEVANCE = RelevanceParameters()

_ATTRIBUTE_TEXTS = tuple(f"The user {third}." for third, _ in _ATTRIBUTES)
_PROMPTS = tuple(f"Can you give me some advice on {topic}?" for topic, _ in _TOPICS)


def _counts_per_user(rng: np.random.Generator, n_users: int, mean: float) -> np.ndarray:
    """Uneven cluster sizes: ``1 + Poisson(mean - 1)`` per user, independent of every effect."""
    return 1 + rng.poisson(mean - 1, n_users)


def _extraction_draw(
    rng: np.random.Generator,
    user_of_item: np.ndarray,
    n_users: int,
    real_user: np.ndarray,
    params: ExtractionParameters,
) -> dict[str, np.ndarray]:
    n = len(user_of_item)
    real = real_user[user_of_item]
    validity = (
        params.mu
        + params.real_shift * real
        + rng.normal(0.0, params.sd_user, n_users)[user_of_item]
        + rng.normal(0.0, params.sd_item, n)
    )
    cuts = np.asarray(params.cuts)
    # category codes: 0 accept, 1 uncertain, 2 reject
    out = {
        "real": real,
        "human": 2 - np.searchsorted(cuts, validity[:, None] + rng.normal(0, params.sd_rater, (n, 3))),
    }
    for name, shift, sd in params.judges:
        out[name] = 2 - np.searchsorted(cuts, validity + shift + rng.normal(0.0, sd, n))
    return out


def _relevance_draw(
    rng: np.random.Generator, prompt_of_item: np.ndarray, n_prompts: int, params: RelevanceParameters
) -> dict[str, np.ndarray]:
    n = len(prompt_of_item)
    relevance = (
        params.mu
        + rng.normal(0.0, params.sd_prompt, n_prompts)[prompt_of_item]
        + rng.normal(0, params.sd_item, n)
    )
    out = {"human": (relevance[:, None] + rng.normal(0.0, params.sd_rater, (n, 3)) > 0).astype(np.int8)}
    shared = rng.normal(size=n)
    for name, shift in params.judges:
        noise = np.sqrt(params.shared) * shared + np.sqrt(1 - params.shared) * rng.normal(size=n)
        out[name] = (relevance + shift + params.sd_llm * noise > 0).astype(np.int8)
    return out


def _majority_code(codes: np.ndarray, n_categories: int) -> np.ndarray:
    """Majority category of each row of 3 codes, -1 when all three differ."""
    counts = np.stack([(codes == c).sum(axis=1) for c in range(n_categories)], axis=1)
    winner = counts.argmax(axis=1)
    return np.where(counts.max(axis=1) >= 2, winner, -1)


def _labels_from_codes(item_ids: np.ndarray, judge: str, rater: str, codes: np.ndarray, names: tuple) -> dict:
    text = np.asarray(names, dtype=object)[codes]
    n = len(item_ids)
    return {
        "item_id": item_ids,
        "judge": np.full(n, judge, dtype=object),
        "rater": np.full(n, rater, dtype=object),
        "label": text,
        "score": np.full(n, np.nan),
        "raw": text,
    }


def _concat_blocks(blocks: list[dict]) -> pd.DataFrame:
    labels = labels_frame(
        {column: np.concatenate([block[column] for block in blocks]) for column in blocks[0]}
    )
    labels["order"] = None
    return labels


def simulate_extraction_study(
    seed: int = 0, n_users: int = 50, params: ExtractionParameters | None = None, with_truth: bool = True
) -> Study:
    """Simulated stage 1: is an attribute extracted from a user's conversations valid? (categorical).

    Users are split half ``real`` / half ``synthetic`` (the source of their conversations); each has
    ``1 + Poisson(7)`` extracted attributes (items).  Three human raters and the LLM judges of ``params.judges``
    label each attribute ``accept`` / ``uncertain`` / ``reject``.  Calibrated so that the human majority flags
    about 22% more attributes as problematic (uncertain or reject) on real than on synthetic conversations
    (relative difference, 0.305 vs 0.25), and the LLM judges flag fewer problems than humans.
    """
    params = params or DEFAULT_EXTRACTION
    rng = np.random.default_rng(seed)
    counts = _counts_per_user(rng, n_users, params.attributes_mean)
    user_of_item = np.repeat(np.arange(n_users), counts)
    real_user = rng.permutation(np.arange(n_users) < n_users // 2)
    draw = _extraction_draw(rng, user_of_item, n_users, real_user, params)
    n = len(user_of_item)
    item_ids = np.array([f"attr-{i + 1:04d}" for i in range(n)], dtype=object)
    attribute_index = rng.integers(0, len(_ATTRIBUTE_TEXTS), n)
    items = pd.DataFrame(
        {
            "item_id": item_ids,
            "user_id": np.array([f"user-{k + 1:02d}" for k in range(n_users)], dtype=object)[user_of_item],
            "attribute": np.asarray(_ATTRIBUTE_TEXTS, dtype=object)[attribute_index],
            "source": np.where(draw["real"], "real", "synthetic").astype(object),
            "stage": "extraction",
        }
    )
    blocks = [
        _labels_from_codes(item_ids, "human", rater, draw["human"][:, r], STAGE1_CATEGORIES)
        for r, rater in enumerate(HUMAN_RATERS)
    ]
    blocks += [
        _labels_from_codes(item_ids, name, "0", draw[name], STAGE1_CATEGORIES) for name, _, _ in params.judges
    ]
    return Study(
        name="simulated-extraction",
        task="categorical",
        items=items,
        labels=_concat_blocks(blocks),
        categories=STAGE1_CATEGORIES,
        simulated=True,
        description=(
            "Simulated stage 1, attribute extraction (SIMULATED DATA, not real judgments)\n"
            f"{n} simulated attributes of {n_users} simulated users (half with real, half with synthetic "
            "conversations), labelled accept / uncertain / reject by 3 simulated human raters and simulated LLM "
            'judges; calibrated to "Re-Centering Humans in LLM Personalization" (22% more problematic attributes '
            f"on real conversations). Seed {seed}."
        ),
        truth=extraction_truth(params) if with_truth else None,
    )


def simulate_relevance_study(
    seed: int = 0, n_users: int = 50, params: RelevanceParameters | None = None, with_truth: bool = True
) -> Study:
    """Simulated stage 2: should this attribute change the response to this prompt? (binary).

    Each user has ``1 + Poisson(2)`` prompts and ``1 + Poisson(7)`` attributes; an item is (user, prompt,
    attribute).  Three human raters and the LLM judges of ``params.judges`` vote ``1`` (relevant) or ``0``.
    Calibrated to the published figures: humans' majority finds about 20% relevant, the LLM judges 40-60%
    (over-identification), pairwise Cohen's kappa about 0.43 human-human, 0.30 human-LLM, 0.60 LLM-LLM.
    """
    params = params or DEFAULT_RELEVANCE
    rng = np.random.default_rng(seed)
    prompts_per_user = _counts_per_user(rng, n_users, params.prompts_mean)
    attributes_per_user = _counts_per_user(rng, n_users, params.attributes_mean)
    user_of_prompt = np.repeat(np.arange(n_users), prompts_per_user)
    prompt_of_item = np.repeat(np.arange(len(user_of_prompt)), attributes_per_user[user_of_prompt])
    user_of_item = user_of_prompt[prompt_of_item]
    draw = _relevance_draw(rng, prompt_of_item, len(user_of_prompt), params)
    n = len(prompt_of_item)
    # attribute k of a user: position of the item within its prompt
    starts = np.r_[0, np.cumsum(attributes_per_user[user_of_prompt])[:-1]]
    position = np.arange(n) - starts[prompt_of_item]
    profile_attributes = [
        rng.choice(len(_ATTRIBUTE_TEXTS), size=len(_ATTRIBUTE_TEXTS), replace=False) for _ in range(n_users)
    ]
    attribute_index = np.array(
        [
            profile_attributes[u][p % len(_ATTRIBUTE_TEXTS)]
            for u, p in zip(user_of_item, position, strict=True)
        ]
    )
    prompt_index = rng.integers(0, len(_PROMPTS), len(user_of_prompt))
    item_ids = np.array([f"rel-{i + 1:05d}" for i in range(n)], dtype=object)
    items = pd.DataFrame(
        {
            "item_id": item_ids,
            "user_id": np.array([f"user-{k + 1:02d}" for k in range(n_users)], dtype=object)[user_of_item],
            "prompt": np.asarray(_PROMPTS, dtype=object)[prompt_index[prompt_of_item]],
            "attribute": np.asarray(_ATTRIBUTE_TEXTS, dtype=object)[attribute_index],
            "prompt_id": np.array([f"prompt-{j + 1:03d}" for j in range(len(user_of_prompt))], dtype=object)[
                prompt_of_item
            ],
            "source": "real",
            "stage": "relevance",
        }
    )
    names = ("0", "1")
    blocks = [
        _labels_from_codes(item_ids, "human", rater, draw["human"][:, r], names)
        for r, rater in enumerate(HUMAN_RATERS)
    ]
    blocks += [_labels_from_codes(item_ids, name, "0", draw[name], names) for name, _ in params.judges]
    return Study(
        name="simulated-relevance",
        task="binary",
        items=items,
        labels=_concat_blocks(blocks),
        simulated=True,
        description=(
            "Simulated stage 2, relevance matching (SIMULATED DATA, not real judgments)\n"
            f"{n} simulated (user, prompt, attribute) items of {n_users} simulated users, voted relevant (1) or not "
            '(0) by 3 simulated human raters and simulated LLM judges; calibrated to "Re-Centering Humans in LLM '
            'Personalization" (humans about 20% relevant, LLMs 40-60%; kappa 0.43 / 0.30 / 0.60 human-human / '
            f"human-LLM / LLM-LLM). Seed {seed}."
        ),
        truth=relevance_truth(params) if with_truth else None,
    )


def _kappa_of(x: np.ndarray, y: np.ndarray, k: int) -> float:
    table = (
        np.bincount(k * x.astype(np.int64) + y.astype(np.int64), minlength=k * k).reshape(k, k).astype(float)
    )
    return _kappa(table)


@functools.lru_cache(maxsize=4)
def _extraction_truth_cached(params: ExtractionParameters, n_items: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    real_user = rng.random(n_items) < 0.5
    draw = _extraction_draw(rng, np.arange(n_items), n_items, real_user, params)
    majority = _majority_code(draw["human"], 3)
    out: dict[str, dict] = {}
    for key, mask in (
        ("all", np.ones(n_items, bool)),
        ("source=real", real_user),
        ("source=synthetic", ~real_user),
    ):
        result: dict[str, dict[str, float]] = {}
        has = mask & (majority >= 0)
        result["problematic_rate"] = {"human": float((majority[has] >= 1).mean())}
        result["no_majority_rate"] = {"human": float((majority[mask] < 0).mean())}
        result["cohen_kappa"] = {
            "human": float(
                np.mean(
                    [
                        _kappa_of(draw["human"][mask, a], draw["human"][mask, b], 3)
                        for a, b in ((0, 1), (0, 2), (1, 2))
                    ]
                )
            )
        }
        for name, _, _ in params.judges:
            result["problematic_rate"][name] = float((draw[name][mask] >= 1).mean())
            result.setdefault("problematic_rate_gap", {})[name] = (
                result["problematic_rate"][name] - result["problematic_rate"]["human"]
            )
            result["cohen_kappa"][name] = _kappa_of(draw[name][has], majority[has], 3)
            result.setdefault("agreement", {})[name] = float((draw[name][has] == majority[has]).mean())
        out[key] = result
    real, synthetic = out["source=real"]["problematic_rate"], out["source=synthetic"]["problematic_rate"]
    out["all"]["problematic_rate_source_difference"] = {
        j: real[j] - synthetic[j] for j in real
    }  # real - synthetic
    out["all"]["problematic_rate_source_ratio"] = {j: real[j] / synthetic[j] for j in real}
    return out


def extraction_truth(
    params: ExtractionParameters | None = None,
    n_items: int = 2_000_000,
    seed: int = 20260606,
    by_slice: bool = False,
) -> dict:
    """Population values of the simulated stage 1: ``truth[metric][judge]`` (or ``{slice: ...}`` with ``by_slice``).

    ``problematic_rate`` (uncertain or reject; humans: the majority label among items that have one, the share
    without a majority in ``no_majority_rate``), ``problematic_rate_gap`` (judge minus human), ``cohen_kappa`` and
    ``agreement`` of each judge with the human majority (items with a majority; humans: mean pairwise kappa), and
    ``problematic_rate_source_difference`` / ``_ratio`` (real vs synthetic).  Items weigh equally; a user's
    conversations are real or synthetic with probability 1/2.
    """
    cached = _extraction_truth_cached(params or DEFAULT_EXTRACTION, n_items, seed)
    if by_slice:
        return {key: {m: dict(v) for m, v in value.items()} for key, value in cached.items() if key != "all"}
    return {m: dict(v) for m, v in cached["all"].items()}


@functools.lru_cache(maxsize=4)
def _relevance_truth_cached(params: RelevanceParameters, n_items: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    draw = _relevance_draw(rng, np.arange(n_items), n_items, params)
    majority = (draw["human"].sum(axis=1) >= 2).astype(np.int8)
    names = [name for name, _ in params.judges]
    human_rate = float(majority.mean())
    result: dict[str, dict[str, float]] = {
        "relevant_rate": {"human": human_rate},
        "relevant_vote_rate": {"human": float(draw["human"].mean())},
        "cohen_kappa": {
            "human": float(
                np.mean(
                    [
                        _kappa_of(draw["human"][:, a], draw["human"][:, b], 2)
                        for a, b in ((0, 1), (0, 2), (1, 2))
                    ]
                )
            )
        },
    }
    for name in names:
        votes = draw[name]
        rate = float(votes.mean())
        result["relevant_rate"][name] = rate
        result.setdefault("over_identification", {})[name] = rate / human_rate - 1
        result["cohen_kappa"][name] = _kappa_of(votes, majority, 2)
        true_positive = float((votes & majority).mean())
        precision, recall = true_positive / rate, true_positive / human_rate
        result.setdefault("precision", {})[name] = precision
        result.setdefault("recall", {})[name] = recall
        result.setdefault("f1", {})[name] = 2 * precision * recall / (precision + recall)
        result.setdefault("kappa_with_single_human", {})[name] = float(
            np.mean([_kappa_of(votes, draw["human"][:, r], 2) for r in range(3)])
        )
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1 :]]
    result["kappa_between_judges"] = {f"{a}~{b}": _kappa_of(draw[a], draw[b], 2) for a, b in pairs}
    return result


def relevance_truth(
    params: RelevanceParameters | None = None, n_items: int = 2_000_000, seed: int = 20260606
) -> dict:
    """Population values of the simulated stage 2: ``truth[metric][judge]``.

    ``relevant_rate`` (humans: the majority of 3 votes; ``relevant_vote_rate``: of single votes),
    ``over_identification`` (judge rate / human rate - 1), ``cohen_kappa`` (judge vs the human majority; humans:
    mean pairwise), ``precision`` / ``recall`` / ``f1`` against the human majority, ``kappa_with_single_human``
    (mean over the 3 raters) and ``kappa_between_judges`` (keys ``"a~b"``).
    """
    return {
        m: dict(v) for m, v in _relevance_truth_cached(params or DEFAULT_RELEVANCE, n_items, seed).items()
    }
