"""The reader's training data and groups (training/): labels follow the gold text and the question's key terms,
and every training group puts one positive before the negatives of its own question. No model is trained."""

import random
import sys
from argparse import Namespace

from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "training"))

from reader_data import _evidence_sentences, _example, sample_rest
from train_reader import groups

QUESTION = "Which city hosted the climate summit this week?"
FILLER = [f"Officials discussed budget item number {n} at length on Tuesday." for n in range(12)]
ARTICLES = [
    {
        "url": "a",
        "title": "Summit opens",
        "text": " ".join(
            [
                "The climate summit opened in Belem on Monday.",  # gold and key terms: positive
                "Belem is a port on the Amazon river.",  # gold, no key term: left out
                "Delegates said the summit was the largest climate meeting yet.",  # key terms, no gold: hard
                *FILLER,
            ]
        ),
    },
    {"url": "a", "title": "Duplicate", "text": "The climate summit opened in Belem on Monday again."},
]


def test_labels_follow_gold_and_key_terms() -> None:
    example = _example(QUESTION, "belem", ARTICLES)
    assert example is not None
    assert [s for _, s in example["positives"]] == ["The climate summit opened in Belem on Monday."]
    negatives = [s for _, s in example["hard"] + example["rest"]]
    assert "Belem is a port on the Amazon river." not in negatives  # holds the gold by accident: unusable
    assert negatives[0] == "Delegates said the summit was the largest climate meeting yet."
    assert len(negatives) == len(FILLER) + 1
    assert all(title == "Summit opens" for title, _ in example["positives"] + example["hard"])


def test_too_few_negatives_or_no_gold_gives_no_example() -> None:
    short = [{"url": "b", "title": "", "text": "The climate summit opened in Belem on Monday. It rained all day."}]
    assert _example(QUESTION, "belem", short) is None
    assert _example(QUESTION, "lisbon", ARTICLES) is None


def test_the_quiz_evidence_adds_a_positive_after_the_articles_own() -> None:
    evidence = _evidence_sentences(
        'Leaders met this week. The <a href="https://example.org/x">climate summit</a> took place in Bel&eacute;m.'
    )
    assert evidence == ["Leaders met this week.", "The climate summit took place in Belém."]
    gold_sentence = ["The climate summit took place in Belem, Brazil."]
    example = _example(QUESTION, "belem", ARTICLES, gold_sentence)
    assert example is not None
    assert [s for _, s in example["positives"]] == ["The climate summit opened in Belem on Monday.", *gold_sentence]
    assert example["positives"][1][0] == "Summit opens"  # the title of the article holding the gold
    # Articles with no usable positive: the evidence is the only one, under the first article's title.
    no_gold = [{"url": "c", "title": "Budget talks", "text": " ".join(FILLER)}]
    assert _example(QUESTION, "belem", no_gold) is None
    only = _example(QUESTION, "belem", no_gold, ["Brazil said nothing.", *gold_sentence])
    assert only is not None and only["positives"] == [["Budget talks", gold_sentence[0]]]


def test_groups_put_the_positive_first_with_its_own_negatives() -> None:
    example = _example(QUESTION, "belem", ARTICLES)
    assert example is not None
    settings = Namespace(group=8, hard=5, hard_pool=20, positives=2)
    found = groups([example], random.Random(13), settings)
    assert len(found) == 1
    (group,) = found
    assert len(group) == 8 and len(set(group)) == 8
    assert group[0] == (QUESTION, "Summit opens", "The climate summit opened in Belem on Monday.")
    own = {(QUESTION, t, s) for t, s in example["hard"] + example["rest"]}
    assert set(group[1:]) <= own


def test_rest_sample_is_seeded_and_capped() -> None:
    examples = [{"rest": list(range(100))}, {"rest": list(range(10))}]
    first = sample_rest([dict(e) for e in examples], 40, 13)
    again = sample_rest([dict(e) for e in examples], 40, 13)
    assert first == again
    assert len(first[0]["rest"]) == 40 and first[0]["rest"] == sorted(first[0]["rest"])
    assert first[1]["rest"] == list(range(10))
