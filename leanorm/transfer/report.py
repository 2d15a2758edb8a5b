"""What a copy did to one class: counts, every failure with its reason, and notes for the reader."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Tuple

__all__ = ["ClassReport"]


@dataclass
class ClassReport:
    """One class's (or relation file's) outcome. ``failed`` holds (where, reason): an objectId, or the
    ``file:line`` of a line that could not be read."""

    class_name: str
    copied: int = 0
    skipped: int = 0
    relations: int = 0
    failed: List[Tuple[str, str]] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    def fail(self, where: str, reason: object) -> None:
        self.failed.append((where, str(reason)))

    def summary(self) -> str:
        """One line: ``Note: 2 copied, 0 failed, 1 skipped (already there)``, plus relation members."""
        line = f"{self.class_name}: {self.copied} copied, {len(self.failed)} failed, " \
               f"{self.skipped} skipped (already there)"
        return line + (f", {self.relations} relation members" if self.relations else "")

    def lines(self) -> List[str]:
        """The summary, then one line per failure and per note."""
        return [self.summary(), *(f"  failed {where}: {reason}" for where, reason in self.failed),
                *(f"  note: {note}" for note in self.notes)]
