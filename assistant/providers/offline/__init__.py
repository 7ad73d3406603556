"""The offline provider: no key, no network, no cost.

It reads the user's request with rules (`intents`), answers with the same tool calls a model
would make, and, once the tool results are in, phrases the answer from them (`answers`).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

from assistant.messages import Completion, CompletionRequest, Message, TextDelta, ToolCall, Usage
from assistant.providers.offline.answers import phrase, unavailable
from assistant.providers.offline.intents import read_intent


class OfflineProvider:
    name = "offline"
    model = "rules-v1"

    async def stream(self, request: CompletionRequest) -> AsyncIterator[TextDelta | Completion]:
        completion = self.complete(request)
        # By paragraph, not by word: the whole answer is known at once, and each piece is a socket
        # message to the browser (a 60-word answer sent word by word was 60 of them).
        for piece in re.findall(r"(?s).+?(?:\n\s*\n|\Z)", completion.text):
            yield TextDelta(piece)
        yield completion

    def complete(self, request: CompletionRequest) -> Completion:
        messages = request.messages
        last_user = max(i for i, m in enumerate(messages) if m.role == "user")
        user, history, this_turn = messages[last_user], messages[:last_user], messages[last_user + 1:]
        intent = read_intent(user, history, request.today)
        offered = {t["name"] for t in request.tools}
        missing = sorted({name for name, _ in intent.calls if offered and name not in offered})
        if missing:
            return Completion(text=unavailable(missing), usage=Usage(), finish_reason="stop")
        if not this_turn and intent.calls:
            calls = [ToolCall(f"call_{uuid.uuid4().hex[:12]}", name, args) for name, args in intent.calls]
            return Completion(tool_calls=calls, usage=Usage(), finish_reason="tool_calls")
        results: list[Message] = [m for m in this_turn if m.role == "tool"]
        return Completion(text=phrase(intent, results, request.today), usage=Usage(), finish_reason="stop")
