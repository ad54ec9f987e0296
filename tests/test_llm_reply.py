"""Reading the model's replies (qa/reply.py): the JSON format, plain text with [n] markers, a reply still arriving."""

import pytest

from newsbot.qa.reply import Claim, answer_so_far, claims


def test_a_json_reply_is_one_claim_citing_its_sentences():
    assert claims('{"answer": "Libya Dawn", "sentences": [3, "5", 3]}') == [Claim("Libya Dawn", (3, 5))]
    assert claims('```json\n{"answer": "Libya Dawn [2]", "sentences": []}\n```') == [Claim("Libya Dawn", (2,))]


def test_a_plain_reply_has_a_claim_per_sentence_with_its_own_markers():
    reply = "Tripoli is governed by a self-declared government [1][4]. It is in Libya."
    assert claims(reply) == [
        Claim("Tripoli is governed by a self-declared government.", (1, 4)),
        Claim("It is in Libya.", ()),
    ]


@pytest.mark.parametrize("reply", ['{"answer": "Tripoli', '{"answer": 7}', '{"text": "x", "sentences": [1]}', "{}"])
def test_malformed_json_is_refused(reply: str):
    with pytest.raises(ValueError):
        claims(reply)


@pytest.mark.parametrize(
    ("arrived", "shown"),
    [
        ('{"answer": "Libya Da', "Libya Da"),
        ('{"answer": "say \\"no\\" \\u00e9', 'say "no" é'),
        ('{"answer": "cut at an escape \\', "cut at an escape "),
        ('{"answer": "done", "sentences": [1', "done"),
        ('{"sentences": [1], "ans', ""),
        ("Tripoli is governed [1", "Tripoli is governed [1"),
    ],
)
def test_the_answer_so_far_of_a_streaming_reply(arrived: str, shown: str):
    assert answer_so_far(arrived) == shown
