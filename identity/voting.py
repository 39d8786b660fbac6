"""History voting: a track's identity is decided by a window of observations, never by
one frame. The winner needs a majority of the window (by default) and a mean score of its
votes of at least `accept_mean`."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass
from typing import Literal

TallyReason = Literal["accepted", "not_full", "no_match", "no_majority", "low_confidence"]


@dataclass(frozen=True, slots=True)
class Vote:
    """One observation's vote: a customer (with its score) or nobody (None)."""

    customer_id: str | None
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class Tally:
    observations: int
    full: bool
    leader: str | None
    votes: int
    mean_score: float
    reason: TallyReason

    @property
    def accepted(self) -> bool:
        return self.reason == "accepted"


class VoteWindow:
    """The last `size` votes of one track."""

    def __init__(self, size: int, required_votes: int, accept_mean: float) -> None:
        if not 1 <= required_votes <= size:
            raise ValueError("required_votes must be in [1, size]")
        self.size = size
        self.required_votes = required_votes
        self.accept_mean = accept_mean
        self._votes: deque[Vote] = deque(maxlen=size)

    def __len__(self) -> int:
        return len(self._votes)

    def add(self, vote: Vote) -> None:
        self._votes.append(vote)

    def clear(self) -> None:
        self._votes.clear()

    def drop_customer(self, customer_id: str) -> int:
        """Remove every vote for `customer_id` (erasure); returns how many there were."""
        kept = [v for v in self._votes if v.customer_id != customer_id]
        removed = len(self._votes) - len(kept)
        self._votes = deque(kept, maxlen=self.size)
        return removed

    def restrict(self, min_score: float) -> int:
        """Turn votes scoring below `min_score` into votes for no one (a stricter threshold
        now applies to this track); returns how many changed."""
        changed = 0
        for i, vote in enumerate(self._votes):
            if vote.customer_id is not None and vote.score < min_score:
                self._votes[i] = Vote(None, vote.score)
                changed += 1
        return changed

    def mentions(self, customer_id: str) -> bool:
        return any(v.customer_id == customer_id for v in self._votes)

    def tally(self) -> Tally:
        n = len(self._votes)
        full = n >= self.size
        counts = Counter(v.customer_id for v in self._votes if v.customer_id is not None)
        ranked = counts.most_common(2)
        if not ranked:
            return Tally(n, full, None, 0, 0.0, "no_match" if full else "not_full")
        leader, votes = ranked[0]
        mean = sum(v.score for v in self._votes if v.customer_id == leader) / votes
        if not full:
            reason: TallyReason = "not_full"
        elif votes < self.required_votes or (len(ranked) > 1 and ranked[1][1] == votes):
            reason = "no_majority"
        elif mean < self.accept_mean:
            reason = "low_confidence"
        else:
            reason = "accepted"
        return Tally(n, full, leader, votes, mean, reason)
