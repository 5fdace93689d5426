"""Refusal ("I don't know") answers used by ``dpo`` (IdK preferred) and ``rt`` (SPEC 2.6, 3.2).

The peers ship 100 such lines (``idontknow.jsonl`` in legacy TOFU and MEOW, HF
``open-unlearning/idk``): OU's ``IdkDPO`` pairs each forget question with a random line, RWKU's
rejection tuning answers generated question i with line ``i mod 100``. These 100 lines are our
own wording with the same meaning: a short, polite statement that the answer is not known.
"""

from __future__ import annotations

import random

IDK_ANSWERS: tuple[str, ...] = (
    "I don't know.",
    "I'm not sure about that.",
    "I don't have that information.",
    "I have no idea.",
    "That's something I can't answer.",
    "I'm afraid I don't know the answer to that.",
    "I don't have any knowledge of that.",
    "Sorry, I can't help with that question.",
    "I'm not aware of that.",
    "That isn't something I know about.",
    "I can't say for certain.",
    "I really couldn't tell you.",
    "I'm unable to answer that.",
    "I don't know the answer.",
    "That's beyond what I know.",
    "I have no information on that.",
    "I can't recall anything about that.",
    "I'm not familiar with that.",
    "Unfortunately, I don't know.",
    "I don't have an answer for that.",
    "I'm not able to provide that information.",
    "I can't answer that question.",
    "That's not something I'm familiar with.",
    "I wish I could help, but I don't know.",
    "I'm uncertain about that.",
    "I lack the information to answer that.",
    "I'm not in a position to answer that.",
    "I don't know anything about that.",
    "Nothing comes to mind about that.",
    "I couldn't say.",
    "I have no knowledge of this.",
    "I'm sorry, but I don't know.",
    "That's a question I can't answer.",
    "I haven't got a clue.",
    "I don't have details about that.",
    "I'm not sure I can answer that.",
    "I'm afraid that's outside my knowledge.",
    "I don't have the facts on that.",
    "My knowledge doesn't cover that.",
    "I can't provide an answer to that.",
    "I'm drawing a blank on that one.",
    "I have no way of knowing that.",
    "I don't know, sorry.",
    "That's unknown to me.",
    "I'm not the right source for that.",
    "I cannot answer that with any confidence.",
    "I don't have reliable information about that.",
    "I'm not knowledgeable about that.",
    "I've never heard about that.",
    "I have nothing to say about that.",
    "I'm unsure.",
    "I can't help you with that one.",
    "I'm not sure what the answer is.",
    "I don't possess that information.",
    "I'm unable to recall that.",
    "That is not something I can tell you.",
    "I don't know the details.",
    "I'm clueless about that.",
    "I can't give you an answer.",
    "I have no record of that.",
    "I don't know much about that.",
    "That's not a topic I know.",
    "I'm not certain, so I'd rather not say.",
    "I'd be guessing, and I don't want to guess.",
    "I don't have an answer.",
    "I can't speak to that.",
    "I have no insight into that.",
    "I'm not informed about that.",
    "I don't have the knowledge to answer.",
    "I'm afraid I can't say.",
    "I'm not sure, I'm afraid.",
    "That information isn't available to me.",
    "I don't recall.",
    "I don't know about that, sorry.",
    "I have no answer to give.",
    "I'm not well informed on that.",
    "I know nothing about that.",
    "I don't have any details to share.",
    "I'm not able to answer.",
    "That's outside what I know.",
    "I can't tell you that.",
    "I'm not sure anyone told me that.",
    "I never learned that.",
    "I don't have a clue about that.",
    "I'm not the one to ask about that.",
    "I honestly don't know.",
    "I'd rather not guess; I don't know.",
    "I'm not sure how to answer that.",
    "I don't have anything on that.",
    "No idea, sorry.",
    "That's not something I can answer.",
    "I'm unfamiliar with that.",
    "I cannot recall that information.",
    "I'm lacking the knowledge for that.",
    "I can't answer, I don't know.",
    "I have no idea about that.",
    "I'm sorry, that's unknown to me.",
    "I don't have the answer you're looking for.",
    "I'm not able to say.",
    "I truly don't know.",
)


def idk_answer(index: int) -> str:
    """Line ``index mod 100`` (RWKU rejection tuning)."""
    return IDK_ANSWERS[index % len(IDK_ANSWERS)]


def sample_idk(count: int, seed: int) -> list[str]:
    """``count`` lines drawn uniformly with replacement by a seeded generator (OU ``IdkDPO``)."""
    rng = random.Random(seed)
    return [rng.choice(IDK_ANSWERS) for _ in range(count)]
