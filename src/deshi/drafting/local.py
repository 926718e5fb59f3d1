"""A drafter that runs a small model on this machine's CPU: Qwen2.5-Coder-0.5B-Instruct
(Apache-2.0, 491 MB, `deshi.drafting.local_model`) through llama-cpp-python, both from the
optional `deshi[llm]` extra. Nothing leaves the machine, so nothing needs redacting; the
request is otherwise the chat drafter's with `structured=True` (`deshi.drafting.remote`): the
same system message, the message, passages and examples as one JSON document of quoted data,
the same guardrail against instructions hidden in the data, the owner's guidance for the
item's label and a field's instruction in the system message (`system_prompt`), and
`redact=True` runs its redaction too.

The answer's shape is fixed: a 0.5B model does not reliably write `[n]` after its
sentences, so its answer is held to `deshi.drafting.structured`'s JSON schema (a grammar the
sampler cannot leave), and every citation parses and names a passage that exists.

Decoding is greedy (temperature 0, fixed seed) and every prompt is evaluated from its start,
so the same request gives the same draft whatever was drafted before.
The model loads at the first draft, not at start-up, and one lock serialises drafts: a
llama.cpp context is not thread-safe, and two drafts at once would share the same cores anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from deshi.drafting.core import Draft, Drafter, Evidence, Example
from deshi.drafting.local_model import (
    QWEN_CODER_05B,
    LocalModelCorrupt,
    LocalModelMissing,
    ModelPackage,
    default_model_directory,
    prepare_model,
)
from deshi.drafting.notes import NoteKey, note
from deshi.drafting.remote import (
    STRUCTURED_SYSTEM_PROMPT,
    DraftingError,
    blocked_draft,
    data_document,
    restored_draft,
    system_prompt,
)
from deshi.drafting.structured import MalformedAnswerError, answer_schema, rendered_answer
from deshi.privacy import Redactor
from deshi.settings import Settings

__all__ = ["LocalDrafter", "MissingLocalModel", "local_drafter", "runtime_version"]


def runtime_version() -> str | None:
    """llama-cpp-python's version, or None when it is not installed."""
    if find_spec("llama_cpp") is None:
        return None
    return metadata.version("llama-cpp-python")


@dataclass(slots=True)
class LocalDrafter:
    """Drafts with the GGUF model at `model_path` (loaded at the first draft)."""

    model_path: Path
    fallback: Drafter
    model: str = QWEN_CODER_05B.name
    threads: int = 1
    context_tokens: int = 4096
    # Room for the longest answer the schema allows (4 × 240 characters, about a token a
    # character in Japanese): a cut-off answer is a failed draft.
    max_tokens: int = 1024
    seed: int = 0
    redact: bool = False
    name: str = field(default="local", init=False)
    _llama: Any = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def draft(
        self,
        question: str,
        evidence: Sequence[Evidence],
        examples: Sequence[Example] = (),
        guidance: str = "",
        *,
        field_instruction: str = "",
    ) -> Draft:
        field = field_instruction
        blocked = blocked_draft(self.fallback, question, evidence, examples, field)
        if blocked is not None:
            return blocked
        if not evidence:  # nothing to cite: the fallback says so without a model call
            return self.fallback.draft(question, evidence, examples, field_instruction=field)
        redactor = Redactor()
        redact = redactor.redact if self.redact else str
        user_message = data_document(question, evidence, examples, redact)
        system = system_prompt(STRUCTURED_SYSTEM_PROMPT, redact(guidance), redact(field))
        numbers = [e.number for e in evidence]
        try:
            text = rendered_answer(self.complete(user_message, numbers, system), numbers)
        except MalformedAnswerError as exc:
            raise DraftingError(f"the local model's {exc}") from None
        guided = bool(guidance.strip())
        return restored_draft(text, redactor, drafter=self.name, model=self.model, guided=guided)

    def complete(
        self, user_message: str, numbers: Sequence[int], system: str = STRUCTURED_SYSTEM_PROMPT
    ) -> str:
        """The model's raw JSON answer to `user_message` (a `data_document`) under the `system`
        message (`system_prompt`)."""
        with self._lock:
            llama = self._loaded()
            # Evaluate the whole prompt every time: reusing the previous prompt's cached prefix
            # evaluates the rest in other batch sizes, whose rounding can change a greedy choice,
            # so the same request could give another draft depending on the one before it.
            llama.reset()
            try:
                result = llama.create_chat_completion(
                    messages=[
                        {"role": "system", "content": system},
                        {"role": "user", "content": user_message},
                    ],
                    response_format={"type": "json_object", "schema": answer_schema(numbers)},
                    temperature=0.0,
                    seed=self.seed,
                    max_tokens=self.max_tokens,
                )
            except (ValueError, RuntimeError) as exc:  # e.g. a prompt longer than the context
                raise DraftingError(f"the local model failed: {exc}") from None
        content = result["choices"][0]["message"]["content"]
        return content if isinstance(content, str) else ""

    def unload(self) -> None:
        """Free the model's memory (it loads again at the next draft)."""
        with self._lock:
            if self._llama is not None:
                self._llama.close()
                self._llama = None

    def _loaded(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            self._llama = Llama(
                model_path=str(self.model_path),
                n_ctx=self.context_tokens,
                n_threads=self.threads,
                n_threads_batch=self.threads,
                seed=self.seed,
                verbose=False,
            )
        return self._llama


@dataclass(frozen=True, slots=True)
class MissingLocalModel:
    """Stands in for the local drafter when its extra is not installed: the fallback drafts,
    and the draft says why."""

    reason: str
    fallback: Drafter
    name: str = "extractive"

    def draft(
        self,
        question: str,
        evidence: Sequence[Evidence],
        examples: Sequence[Example] = (),
        guidance: str = "",  # the extractive fallback cannot follow it
        *,
        field_instruction: str = "",
    ) -> Draft:
        drafted = self.fallback.draft(
            question, evidence, examples, field_instruction=field_instruction
        )
        missing = note(NoteKey.LOCAL_MODEL_MISSING, reason=self.reason)
        return replace(drafted, notes=(*drafted.notes, missing))


def local_drafter(
    settings: Settings, fallback: Drafter, package: ModelPackage = QWEN_CODER_05B
) -> Drafter:
    """The local drafter of `settings`, its model file prepared (assembled on first use), or
    `MissingLocalModel` when llama-cpp-python or the model's packages are not installed."""
    if runtime_version() is None:
        return MissingLocalModel(
            "llama-cpp-python is not installed: pip install 'deshi[llm]'", fallback
        )
    directory = settings.llm_model_dir or default_model_directory()
    try:
        prepared = prepare_model(package, directory)
    except (LocalModelMissing, LocalModelCorrupt) as exc:
        return MissingLocalModel(exc.detail, fallback)
    return LocalDrafter(
        model_path=prepared.path,
        fallback=fallback,
        model=package.name,
        threads=settings.llm_threads,
    )
