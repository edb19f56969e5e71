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

Ground truth
------------
:func:`truth` returns the population values under the generator, computed once from 2,000,000 simulated items
(cached in memory): ``truth[metric][judge]`` for ``no_better_rate``, ``win_rate``, ``tie_rate``, ``loss_rate``,
``mean_score`` (the reference's per-item label is the median of the 3 human integer ratings, itself an integer),
``mean_rating`` (mean of all individual ratings), the gaps ``*_gap`` (judge minus human median), Cohen's kappa
(unweighted / linear / quadratic on the 5 categories) and Pearson / Spearman of each judge's label to the human
median, the human-human pairwise values under ``judge = "human"``, and ``attribute_mention_effect`` (mean label
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
    "truth",
    "CUTS",
    "HUMAN_RATERS",
    "DEMO_SEED",
]

CUTS = (-1.5, -0.5, 0.0627, 1.0627)
"""Default latent thresholds between the ratings 1|2, 2|3, 3|4, 4|5 (the "no difference" band is narrower than the
rest, so that a 54.6% no-better rate and a 3.18 mean hold together, as in the published figures)."""

HUMAN_RATERS = ("rater1", "rater2", "rater3")

DEMO_SEED = 10
"""Seed for the demo: the first seed in 0-99 whose sample is typical (human no-better rate within 0.015 and human
mean within 0.05 of the population values, every LLM judge's mean within 0.07).  With 50 users the sample values
vary from seed to seed (human no-better rate: standard deviation about 0.028 across seeds; seed 0 happens to give
0.476), so a demo on an arbitrary seed may sit far from the calibration targets; the coverage tests use all seeds."""
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
    user_alpha: float = 2.0
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
        latent = (
            params.mu
            + judge.shift
            + judge.mention_shift * mention
            + judge.scale * (rho * standardised + np.sqrt(1 - rho**2) * noise())
        )
        out[judge.name] = _cut(latent, params.cuts)
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


def simulate_study(
    seed: int = 0,
    n_users: int = 50,
    n_items: int = 550,
    params: SimulationParameters | None = None,
    with_truth: bool = True,
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
    rng = np.random.default_rng(seed)
    user_of_item = _users_of_items(rng, n_users, n_items, params.user_alpha)
    synthetic = rng.permutation(np.arange(n_items) < n_items // 2)
    draw = _draw(rng, user_of_item, n_users, synthetic, params)
    profiles = _profiles(rng, n_users)
    topic_index = rng.integers(0, len(_TOPICS), n_items)

    users = np.array([f"user-{k + 1:02d}" for k in range(n_users)], dtype=object)
    item_ids = np.array([f"conv-{i + 1:04d}" for i in range(n_items)], dtype=object)
    prompts, responses_a, responses_b, profile_texts = [], [], [], []
    for i in range(n_items):
        topic, _ = _TOPICS[topic_index[i]]
        attributes = profiles[user_of_item[i]]
        attribute = attributes[i % 3][1]
        prompts.append(f"Can you give me some advice on {topic}?")
        responses_a.append(
            f"Here are a few general tips on {topic}: start small, plan ahead and keep it simple."
        )
        if draw["mention"][i]:
            responses_b.append(f"Since you {attribute}, here are tips on {topic} that fit your situation.")
        else:
            responses_b.append(f"Here are tips on {topic} chosen to fit your situation and routine.")
        profile_texts.append("The user " + "; the user ".join(third for third, _ in attributes) + ".")

    items = pd.DataFrame(
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
            "mentions_attribute": draw["mention"],
        }
    )

    blocks = []
    for r, rater in enumerate(HUMAN_RATERS):
        blocks.append(_label_block(item_ids, "human", rater, draw["human"][:, r]))
    for judge in params.judges:
        blocks.append(_label_block(item_ids, judge.name, "0", draw[judge.name]))
    blocks.append(_label_block(item_ids, params.rm_name, "0", draw[params.rm_name], score=draw["rm_score"]))
    labels = labels_frame(
        {column: np.concatenate([block[column] for block in blocks]) for column in blocks[0]}
    )
    labels["order"] = None

    description = (
        "Simulated personalization study (SIMULATED DATA, not real judgments)\n"
        f"{n_users} simulated users, {n_items} simulated conversations, generic (a) vs personalized (b) responses "
        "rated 1-5 (1 = personalized much worse, 3 = no difference, 5 = personalized much better) by 3 simulated "
        "human raters, 3 simulated LLM judges and a simulated reward model. The generator (auditor.simulate) is "
        'calibrated to the published figures of "Re-Centering Humans in LLM Personalization" (arXiv 2606.06614): '
        "human no-better rate about 54.6%, human mean 3.18, LLM judges more lenient (published means 3.41-4.02; "
        "here about 3.50, 3.72 and 3.93) with Spearman 0.15-0.36 to the human median, reward-model Spearman 0.3. "
        f"Seed {seed}."
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
