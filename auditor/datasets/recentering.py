"""Stimuli and pilot labels of "Re-Centering Humans in LLM Personalization" (arXiv 2606.06614).

Folder ``<root>/recentering/`` (a snapshot of the annotation tool's repository, see its README.md; research use
only, derived from WildChat).  One loader per stage; every study is marked ``source = "real"`` where the user
profiles come from real (WildChat) conversations.

Stage 1, attribute extraction (:func:`load_stage1`)
    ``pilot_annotations_v0/*_task1.jsonl``: per annotator and task-1 item (a user, ``index`` 0-4), one judgment per
    extracted attribute (``ok`` / ``unsure`` / ``bad`` -> ``accept`` / ``uncertain`` / ``reject``).  The files hold
    no attribute text and no user id: an item is (task-1 index, attribute position), the cluster is the task-1
    index.  The source script merges ``unsure`` into ``bad``; here ``uncertain`` stays its own category and the
    audit's policy decides (``uncertain`` counts as problematic by default).
Stage 2 pilot, relevance (:func:`load_pilot_relevance`)
    ``pilot_annotations_v0/*_task3.jsonl`` (human binary votes per annotator) and ``pilot_llm_relevance/<model>.jsonl``
    (LLM votes).  Join: the human file's ``index`` is the LLM file's ``sample_index`` (same ``user_id``; verified),
    then the attribute text.  ``task3_relevance_clf.jsonl`` (the authors' aggregated labels, with the prompt text)
    is attached as item metadata, not as votes.
Stage 2, relevance (:func:`load_stage2`)
    ``stage2/task5_items.jsonl``: 164 (user, LIMA prompt) pairs; an item is (user, prompt, profile attribute),
    3,973 in all.  LLM votes from ``stage2/llm_relevance_<model>.jsonl`` joined on (user_id, prompt_index,
    attribute).  The human reference is the ``is_relevant`` flag of ``stage3/task6_items.jsonl`` (the
    "human-relevant" attributes the stage-3 generations used, per the folder's README; one aggregated label, rater
    ``gt``; 154 of the 164 prompts, 3,748 items); ``with_reference=False`` leaves it out.
Stage 3, generation (:func:`load_stage3`)
    ``stage3/task6_items.jsonl``: 308 generic (a) vs personalized (b) pairs (154 prompts x 2 generators).  No
    human ratings exist in the folder: the study has items and an empty labels table (input for running judges).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from auditor.datasets import Study, labels_frame, read_jsonl, require_file

FOLDER = "recentering"
PILOT = "pilot_annotations_v0"
PILOT_LLM = "pilot_llm_relevance"
STAGE1_ALIASES = {"ok": "accept", "unsure": "uncertain", "bad": "reject"}
STAGE1_CATEGORIES = ("accept", "uncertain", "reject")
BINARY_ALIASES = {"True": "1", "False": "0", "true": "1", "false": "0", "YES": "1", "NO": "0"}
STAGE2_MODELS = ("gpt-5.4", "gemma-4-31b-it")
LIKERT_SCALE = (1, 5, 3)
SOURCE_NOTE = (
    'Pilot / stimulus data of "Re-Centering Humans in LLM Personalization" (arXiv 2606.06614), snapshot of the '
    "annotation tool's repository (orange0629/personalize-annotation); derived from WildChat, research use only."
)


def _folder(root: str | Path) -> Path:
    return Path(root) / FOLDER


def _binary(value: object) -> str | None:
    if value is None:
        return None
    return BINARY_ALIASES.get(str(value).strip(), str(value).strip())


def _annotator_of(path: Path) -> str:
    return re.sub(r"_task\d+$", "", path.stem)


# --------------------------------------------------------------------------------------------------------------
# stage 1


def load_stage1(root: str | Path) -> Study:
    """Stage 1 pilot: attribute validity judgments (categorical ``accept`` / ``uncertain`` / ``reject``).

    Items: ``item_id = "t1-{index}:{position}"`` (attribute ``position`` within task-1 item ``index``),
    ``user_id = "t1-{index}"``, ``stage = "extraction"``, ``attribute_position``.  Labels: ``human`` with the
    annotator id as rater, the raw judgment in ``raw``, the annotator's ``note`` and the item-level ``flagged``,
    ``overall_note`` kept as extra columns.
    """
    files = sorted((_folder(root) / PILOT).glob("*_task1.jsonl"))
    if not files:
        raise FileNotFoundError(f"no *_task1.jsonl files in {_folder(root) / PILOT}")
    rows: list[dict] = []
    n_attributes: dict[int, int] = {}
    for path in files:
        for record in read_jsonl(path):
            index = int(record["index"])
            judgments = record["attr_judgments"]
            known = n_attributes.setdefault(index, len(judgments))
            if known != len(judgments):
                raise ValueError(
                    f"{path}: task-1 item {index} has {len(judgments)} judgments, others {known}"
                )
            annotator = str(record.get("annotator") or _annotator_of(path))
            for position, judgment in enumerate(judgments):
                raw = judgment.get("judgment")
                text = None if raw in (None, "") else str(raw)
                rows.append(
                    {
                        "item_id": f"t1-{index}:{position:02d}",
                        "judge": "human",
                        "rater": annotator,
                        "label": STAGE1_ALIASES.get(text, text) if text is not None else None,
                        "raw": text,
                        "exclusion": None if text is not None else "no judgment",
                        "note": judgment.get("note") or None,
                        "flagged": bool(record.get("flagged", False)),
                        "overall_note": record.get("overall_note") or None,
                    }
                )
    items = pd.DataFrame(
        [
            {
                "item_id": f"t1-{index}:{position:02d}",
                "user_id": f"t1-{index}",
                "stage": "extraction",
                "task1_index": index,
                "attribute_position": position,
            }
            for index in sorted(n_attributes)
            for position in range(n_attributes[index])
        ]
    )
    labels = labels_frame(rows)
    return Study(
        name="recentering-stage1-pilot",
        task="categorical",
        items=items,
        labels=labels,
        scale=None,
        aliases=dict(STAGE1_ALIASES),
        unusable=(),
        simulated=False,
        categories=STAGE1_CATEGORIES,
        description=(
            "Re-Centering pilot, stage 1: validity of extracted user attributes (accept / uncertain / reject)\n"
            f"{len(items)} attributes of {len(n_attributes)} users judged by {labels['rater'].nunique()} "
            "annotators (pilot labels by the authors' lab and 5 Prolific workers; not the final study data). "
            "The files carry no attribute text, user id or real/synthetic source. " + SOURCE_NOTE
        ),
    )


# --------------------------------------------------------------------------------------------------------------
# stage 2 pilot


def load_pilot_relevance(root: str | Path, exclude_annotators: tuple[str, ...] = ("admin",)) -> Study:
    """Stage 2 pilot: binary relevance ("should this attribute change the response?") by humans and LLMs.

    Parameters
    ----------
    exclude_annotators
        Human files to leave out; default ``("admin",)``, the tool's test account whose 35 votes are all null.

    Items: ``item_id = "p{sample:02d}:{k:02d}"`` (sample = the task-3 item index = the LLM files' sample_index,
    ``k`` = attribute position in order of first appearance), ``user_id``, ``prompt_index``, ``attribute``,
    ``prompt`` (from ``task3_relevance_clf.jsonl``), ``stage = "relevance"``, ``source = "real"``, and the
    authors' aggregated ``clf_label`` / ``human_yes_rate`` / ``n_annotators`` / ``clf_split`` where present.
    Labels: ``human`` (rater = annotator; a record with no judgments adds no row) and one judge per LLM file,
    named by the file (``claude-sonnet-4-6``, ``gemma-4-31b-it``, ``gpt-5.4``, ``llama-3.3-70b-instruct``; the
    file's own ``model`` field, e.g. a Bedrock ARN, is kept in the ``model`` column).
    """
    folder = _folder(root)
    items: dict[tuple[int, str], dict] = {}
    user_of_sample: dict[int, str] = {}
    prompt_of_sample: dict[int, int] = {}
    next_position: dict[int, int] = {}

    def item_for(sample: int, user_id: str, attribute: str, where: Path) -> str:
        known_user = user_of_sample.setdefault(sample, user_id)
        if known_user != user_id:
            raise ValueError(f"{where}: sample {sample} belongs to user {known_user}, not {user_id}")
        key = (sample, attribute)
        if key not in items:
            position = next_position.get(sample, 0)
            next_position[sample] = position + 1
            items[key] = {
                "item_id": f"p{sample:02d}:{position:02d}",
                "sample_index": sample,
                "user_id": user_id,
                "attribute": attribute,
            }
        return items[key]["item_id"]

    rows: list[dict] = []
    human_files = sorted(folder.joinpath(PILOT).glob("*_task3.jsonl"))
    if not human_files:
        raise FileNotFoundError(f"no *_task3.jsonl files in {folder / PILOT}")
    excluded = []
    for path in human_files:
        if _annotator_of(path) in exclude_annotators:
            excluded.append(_annotator_of(path))
            continue
        for record in read_jsonl(path):
            sample = int(record["index"])
            prompt_of_sample.setdefault(sample, int(record["prompt_index"]))
            for judgment in record["relevance_judgments"]:
                item_id = item_for(sample, record["user_id"], judgment["attribute"], path)
                raw = judgment.get("relevant")
                rows.append(
                    {
                        "item_id": item_id,
                        "judge": "human",
                        "rater": str(record.get("annotator") or _annotator_of(path)),
                        "label": _binary(raw),
                        "raw": None if raw is None else str(raw),
                        "exclusion": None if raw is not None else "no judgment",
                        "flagged": bool(record.get("flagged", False)),
                    }
                )
    llm_files = sorted(
        p for p in folder.joinpath(PILOT_LLM).glob("*.jsonl") if p.name != "task3_relevance_clf.jsonl"
    )
    for path in llm_files:
        for record in read_jsonl(path):
            sample = int(record["sample_index"])
            for vote in record["items"]:
                item_id = item_for(sample, record["user_id"], vote["attribute"], path)
                raw = vote.get("raw_answer")
                label = _binary(raw) if raw not in (None, "") else _binary(vote.get("relevant"))
                if label is not None and label != _binary(vote.get("relevant")):
                    raise ValueError(
                        f"{path}: raw_answer {raw!r} contradicts relevant={vote.get('relevant')!r}"
                    )
                rows.append(
                    {
                        "item_id": item_id,
                        "judge": path.stem,
                        "rater": "0",
                        "label": label,
                        "raw": None if raw is None else str(raw),
                        "exclusion": None if label is not None else "unparsed",
                        "model": record.get("model"),
                    }
                )

    clf = pd.DataFrame(read_jsonl(require_file(folder / PILOT_LLM / "task3_relevance_clf.jsonl")))
    prompts = clf.drop_duplicates("prompt_index").set_index("prompt_index")["prompt_text"]
    for sample, prompt_index in (
        clf.drop_duplicates("sample_index").set_index("sample_index")["prompt_index"].items()
    ):
        known = prompt_of_sample.setdefault(int(sample), int(prompt_index))
        if known != int(prompt_index):
            raise ValueError(
                f"sample {sample}: prompt_index {known} in task3 files, {prompt_index} in the clf file"
            )
    frame = pd.DataFrame(list(items.values()))
    frame["prompt_index"] = frame["sample_index"].map(prompt_of_sample).astype("Int64")
    frame["prompt"] = frame["prompt_index"].map(lambda p: prompts.get(p) if pd.notna(p) else None)
    clf_keyed = clf.rename(columns={"label": "clf_label", "split": "clf_split"}).set_index(
        ["sample_index", "attribute"]
    )[["clf_label", "human_yes_rate", "n_annotators", "clf_split"]]
    frame = frame.join(clf_keyed, on=["sample_index", "attribute"])
    frame["stage"] = "relevance"
    frame["source"] = "real"
    frame = frame[
        [
            "item_id",
            "user_id",
            "prompt",
            "stage",
            "source",
            "sample_index",
            "prompt_index",
            "attribute",
            "clf_label",
            "human_yes_rate",
            "n_annotators",
            "clf_split",
        ]
    ]
    labels = labels_frame(rows)
    note = f" Left out: {', '.join(excluded)} (test account, all votes null)." if excluded else ""
    return Study(
        name="recentering-relevance-pilot",
        task="binary",
        items=frame.reset_index(drop=True),
        labels=labels,
        scale=None,
        aliases=dict(BINARY_ALIASES),
        unusable=(),
        simulated=False,
        description=(
            "Re-Centering pilot, stage 2: should this attribute change the response? (binary, humans and LLMs)\n"
            f"{len(frame)} (user, prompt, attribute) items; human annotators "
            f"{', '.join(sorted(labels.loc[labels.judge == 'human', 'rater'].unique()))}; LLMs "
            f"{', '.join(j for j in pd.unique(labels['judge']) if j != 'human')}.{note} 'Lechen' and 'Lechen2' are "
            "separate files and treated as separate raters (possibly one person twice). " + SOURCE_NOTE
        ),
    )


# --------------------------------------------------------------------------------------------------------------
# stage 3 (items), reused by stage 2 for its reference


def _stage3_records(root: str | Path) -> list[dict]:
    return read_jsonl(_folder(root) / "stage3" / "task6_items.jsonl")


def _prompt_index_of(prompt_id: str, user_id: str) -> int:
    prefix = f"{user_id}_"
    if not prompt_id.startswith(prefix):
        raise ValueError(f"prompt_id {prompt_id!r} does not start with its user_id")
    return int(prompt_id[len(prefix) :])


def render_profile(attributes: list[str]) -> str:
    """A profile as a judge reads it: one attribute per line, ``- `` bullets."""
    return "\n".join(f"- {attribute}" for attribute in attributes)


def load_stage3(root: str | Path) -> Study:
    """Stage 3: the 308 generic (a) vs personalized (b) response pairs; no human ratings (empty labels table).

    Items: ``item_id = "{model_tag}:{prompt_id}"`` (``prompt_id = "{user_id}_{prompt_index}"``), ``user_id``,
    ``prompt`` (prompt_text), ``response_a`` (response_no_context), ``response_b`` (response_personalized),
    ``profile`` (all of the user's attributes, one per line), ``relevant_profile`` (only the attributes marked
    relevant, which the personalized response was generated from), ``profile_attributes`` (the structured list as
    JSON), ``n_attributes``, ``n_relevant``, ``stage = "generation"``, ``source = "real"``, ``generator``
    (model_tag), ``prompt_id``, ``prompt_index``.  The task is ``likert`` on the study's 1-5 scale (1 = B much
    worse, 3 = no difference, 5 = B much better).
    """
    records = _stage3_records(root)
    rows = []
    for record in records:
        attributes = record["attributes"]
        relevant = [a["attribute"] for a in attributes if a.get("is_relevant")]
        rows.append(
            {
                "item_id": f"{record['model_tag']}:{record['prompt_id']}",
                "user_id": record["user_id"],
                "prompt": record["prompt_text"],
                "response_a": record["response_no_context"],
                "response_b": record["response_personalized"],
                "profile": render_profile([a["attribute"] for a in attributes]),
                "relevant_profile": render_profile(relevant),
                "profile_attributes": json.dumps(attributes, ensure_ascii=False),
                "n_attributes": len(attributes),
                "n_relevant": len(relevant),
                "stage": "generation",
                "source": "real",
                "generator": record["model_tag"],
                "prompt_id": record["prompt_id"],
                "prompt_index": _prompt_index_of(record["prompt_id"], record["user_id"]),
                "item_index": record.get("item_index"),
            }
        )
    items = pd.DataFrame(rows)
    if not items["item_id"].is_unique:
        raise ValueError("stage3/task6_items.jsonl: (model_tag, prompt_id) is not unique")
    return Study(
        name="recentering-stage3",
        task="likert",
        items=items,
        labels=labels_frame([]),
        scale=LIKERT_SCALE,
        aliases={},
        unusable=(),
        simulated=False,
        description=(
            "Re-Centering stage 3: generic (a) vs personalized (b) responses, no human ratings\n"
            f"{len(items)} pairs ({items['prompt_id'].nunique()} prompts x {items['generator'].nunique()} "
            f"generators: {', '.join(sorted(items['generator'].unique()))}) for {items['user_id'].nunique()} "
            "users. The personalized response was generated from the attributes marked relevant. No human ratings "
            "of these pairs are in the data: judges can be run and compared with each other, not with humans. "
            + SOURCE_NOTE
        ),
    )


# --------------------------------------------------------------------------------------------------------------
# stage 2


def load_stage2(
    root: str | Path, with_reference: bool = True, models: tuple[str, ...] = STAGE2_MODELS
) -> Study:
    """Stage 2: binary relevance of every profile attribute to a prompt, LLM votes (and the stage-3 reference).

    Items: ``item_id = "{user_id}_{prompt_index}:{k:02d}"`` (``k`` = the attribute's position in
    ``profile_attributes``), ``user_id``, ``prompt`` (prompt_text), ``attribute``, ``confidence`` (the extractor's),
    ``pipeline_relevance`` / ``expected_behavior`` (the pipeline's own proposal, for the attributes it listed in
    ``items``; else empty), ``stage = "relevance"``, ``source = "real"``, ``prompt_index``, ``item_index``.
    Labels: one judge per model file (one vote per item, rater ``"0"``), raw answer in ``raw`` and the model's
    explanation in ``full_output``; with ``with_reference``, ``human`` / rater ``gt`` from the stage-3 ``is_relevant`` flags.
    """
    folder = _folder(root)
    records = read_jsonl(folder / "stage2" / "task5_items.jsonl")
    rows = []
    key_to_id: dict[tuple[str, int, str], str] = {}
    for record in records:
        proposals = {item["attribute"]: item for item in record["items"]}
        for k, attribute in enumerate(record["profile_attributes"]):
            text = attribute["attribute"]
            item_id = f"{record['user_id']}_{record['prompt_index']}:{k:02d}"
            key = (record["user_id"], int(record["prompt_index"]), text)
            if key in key_to_id:
                raise ValueError(
                    f"stage2: attribute listed twice for {record['user_id']} prompt {record['prompt_index']}"
                )
            key_to_id[key] = item_id
            proposal = proposals.get(text)
            rows.append(
                {
                    "item_id": item_id,
                    "user_id": record["user_id"],
                    "prompt": record["prompt_text"],
                    "stage": "relevance",
                    "source": "real",
                    "attribute": text,
                    "confidence": attribute.get("confidence"),
                    "pipeline_relevance": None if proposal is None else proposal.get("relevance"),
                    "expected_behavior": None if proposal is None else proposal.get("expected_behavior"),
                    "prompt_index": int(record["prompt_index"]),
                    "item_index": record.get("item_index"),
                }
            )
    items = pd.DataFrame(rows)
    label_rows: list[dict] = []
    for model in models:
        for record in read_jsonl(folder / "stage2" / f"llm_relevance_{model}.jsonl"):
            for vote in record["items"]:
                key = (record["user_id"], int(record["prompt_index"]), vote["attribute"])
                if key not in key_to_id:
                    raise ValueError(f"llm_relevance_{model}.jsonl: vote for an unknown item {key}")
                raw = vote.get("raw_answer")
                label = _binary(raw) if raw not in (None, "") else _binary(vote.get("relevant"))
                label_rows.append(
                    {
                        "item_id": key_to_id[key],
                        "judge": model,
                        "rater": "0",
                        "label": label,
                        "raw": raw,
                        "exclusion": None if label is not None else "unparsed",
                        "full_output": vote.get("full_output"),
                        "model": record.get("model"),
                    }
                )
    n_reference = 0
    if with_reference:
        seen: dict[str, str] = {}
        for record in _stage3_records(root):
            prompt_index = _prompt_index_of(record["prompt_id"], record["user_id"])
            for attribute in record["attributes"]:
                key = (record["user_id"], prompt_index, attribute["attribute"])
                if key not in key_to_id:
                    raise ValueError(f"stage3 attribute not among the stage-2 items: {key}")
                label = "1" if attribute["is_relevant"] else "0"
                item_id = key_to_id[key]
                if item_id in seen:  # both generators carry the same flags; keep one
                    if seen[item_id] != label:
                        raise ValueError(f"stage3: conflicting is_relevant flags for {key}")
                    continue
                seen[item_id] = label
                label_rows.append(
                    {
                        "item_id": item_id,
                        "judge": "human",
                        "rater": "gt",
                        "label": label,
                        "raw": str(bool(attribute["is_relevant"])),
                        "exclusion": None,
                    }
                )
        n_reference = len(seen)
    labels = labels_frame(label_rows)
    reference_note = (
        f" Reference: the stage-3 'is_relevant' flags (the human-relevant attributes the personalized responses "
        f"were generated from; one aggregated label per item, rater 'gt') on {n_reference} of {len(items)} items."
        if with_reference
        else " No human reference included."
    )
    return Study(
        name="recentering-stage2",
        task="binary",
        items=items,
        labels=labels,
        scale=None,
        aliases=dict(BINARY_ALIASES),
        unusable=(),
        simulated=False,
        description=(
            "Re-Centering stage 2: should this attribute change the response? (binary, LLM votes)\n"
            f"{len(items)} (user, prompt, attribute) items, {items['user_id'].nunique()} users, "
            f"{items.groupby(['user_id', 'prompt_index']).ngroups} LIMA prompts; judges "
            f"{', '.join(models)}.{reference_note} " + SOURCE_NOTE
        ),
    )


def load(root: str | Path, stage: str) -> Study:
    """Dispatch by stage: ``extraction`` (stage 1 pilot), ``relevance`` (stage 2), ``relevance-pilot``,
    ``generation`` (stage 3)."""
    loaders = {
        "extraction": load_stage1,
        "relevance": load_stage2,
        "relevance-pilot": load_pilot_relevance,
        "generation": load_stage3,
    }
    if stage not in loaders:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(loaders)}")
    return loaders[stage](root)


__all__ = ["load", "load_stage1", "load_pilot_relevance", "load_stage2", "load_stage3", "render_profile"]
