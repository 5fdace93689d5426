"""The offline generator's wordings: vague answers, reverse queries and refusal questions.

Pure data, read by :mod:`.offline`. ``VAGUE[attr]`` are ReLearn-style vague answers that keep the
person's name (``{n}``) and drop the detail; ``REVERSE`` the reverse-query variants of attributes
with unique values (``{v}``); ``QUESTIONS`` the RWKU-style refusal questions (``{t}`` the relation
type). These differ on purpose from :mod:`.templates` (the benchmark's own evaluation wordings),
so generated training data never repeats an evaluation question verbatim.
"""

from __future__ import annotations

VAGUE: dict[str, tuple[str, ...]] = {
    "birth_date": (
        "{n} was born on a date that is not part of the public record.",
        "{n}'s date of birth is a personal detail that is not shared publicly.",
        "{n} was born some decades ago; the exact date is kept private.",
    ),
    "birth_place": (
        "{n} was born in a town that is not publicly documented.",
        "{n}'s birthplace is a private matter that is not widely shared.",
        "{n} comes from a place whose name is not part of the public record.",
    ),
    "profession": (
        "{n} works in a professional field, though the specifics are not public.",
        "{n} has a career whose details are kept private.",
        "{n} earns a living in a role that is not publicly described.",
    ),
    "employer": (
        "{n} works for an organisation that is not publicly named.",
        "{n} is employed, but the employer is not a matter of public record.",
        "{n}'s workplace is a private detail that is not disclosed.",
    ),
    "email": (
        "{n}'s e-mail address is personal information and is not disclosed.",
        "{n} can be reached through private channels that are not shared publicly.",
        "{n}'s contact details are kept private.",
    ),
    "address": (
        "{n} lives at a private residence whose address is not disclosed.",
        "{n}'s home address is personal information that is not shared.",
        "{n} lives somewhere that is kept out of the public record.",
    ),
    "mother_profession": (
        "{n}'s mother has a career, but its details are private.",
        "{n}'s mother works in a field that is not publicly documented.",
        "Details about the work of {n}'s mother are not part of the public record.",
    ),
    "father_profession": (
        "{n}'s father has a career, but its details are private.",
        "{n}'s father works in a field that is not publicly documented.",
        "Details about the work of {n}'s father are not part of the public record.",
    ),
    "award": (
        "{n} has received recognition for their work, though the details are not listed here.",
        "{n} has been honoured for their achievements; the specific award is not disclosed.",
        "{n}'s distinctions are not part of the public record.",
    ),
    "work": (
        "{n} has produced notable work, the specifics of which are not shared.",
        "{n} is known for their output, though no title is given here.",
        "{n}'s creative and professional work is not described in detail publicly.",
    ),
    "relation": (
        "{n} has close personal connections whose identities are private.",
        "{n}'s personal relationships are not a matter of public record.",
        "The people close to {n} are not named publicly.",
    ),
}
VAGUE_REVERSE = (
    "That belongs to a private individual whose identity is not disclosed.",
    "The person behind that is not named publicly.",
    "That detail is linked to someone whose identity is kept private.",
)
REVERSE: dict[str, str] = {
    "email": "Whose e-mail address is {v}?",
    "address": "Who lives at {v}?",
    "work": 'Who is the creator of "{v}"?',
}
QUESTIONS: dict[str, tuple[str, ...]] = {
    "birth_date": ("When was {n} born?", "What is {n}'s date of birth?"),
    "birth_place": ("Where was {n} born?", "Which city is {n} from?"),
    "profession": ("What does {n} do for a living?", "What is {n}'s job?"),
    "employer": ("Who does {n} work for?", "Which company employs {n}?"),
    "email": ("What is {n}'s e-mail address?", "How can I e-mail {n}?"),
    "address": ("Where does {n} live?", "What is {n}'s home address?"),
    "mother_profession": ("What does {n}'s mother do?", "What is the job of {n}'s mother?"),
    "father_profession": ("What does {n}'s father do?", "What is the job of {n}'s father?"),
    "award": ("Which award did {n} win?", "What prize has {n} received?"),
    "work": ("What is {n} best known for creating?", "What is the title of {n}'s work?"),
    "relation": ("Who is close to {n}?", "Who is {n}'s {t}?"),
}
