"""HTTP routes we add to Chainlit's server: attachments and filed originals, served to their owner
only, the signed-in user's calendar feed (their own bills only: there is no id to ask for anyone
else's), and, without sign-in, `/health/live`, `/health/ready` (503 when not ready: `assistant/health.py`)
and `/metrics` (Prometheus text: `assistant/metrics.py`; counts only, no user data).

Chainlit's feedback routes (`PUT`/`DELETE /feedback`) write by the ids the client sends and check no
owner: anyone signed in could rate, overwrite or delete feedback on another user's messages. Ours,
in front of them, answer 404 unless every id named is the signed-in user's (or new), then hand over
to Chainlit's. (Writes of messages and elements are checked in the data layer: `history.py`.)"""

from __future__ import annotations

import mimetypes

from chainlit import server as chainlit_server
from chainlit.auth import get_current_user
from chainlit.data import get_data_layer
from chainlit.server import app
from chainlit.types import DeleteFeedbackRequest, UpdateFeedbackRequest
from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from assistant.web.storage import LocalStorage, UnsafeKey


def install(storage: LocalStorage, services=None) -> None:
    async def attachment(key: str, user=Depends(get_current_user)):
        if user is None or key.split("/", 1)[0] != user.id:
            raise HTTPException(status_code=404)
        try:
            path = storage.path_for(key)
        except UnsafeKey:
            raise HTTPException(status_code=404) from None
        if not path.is_file():
            raise HTTPException(status_code=404)
        mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=mime, filename=path.name,
                            headers={"X-Content-Type-Options": "nosniff"})

    async def original(document_id: int, user=Depends(get_current_user)):
        """A filed bill's original file, to its owner only."""
        from assistant.documents import store
        from assistant.graph.bills import get_document

        if user is None or services is None:
            raise HTTPException(status_code=404)
        async with services.sessions() as session:
            document = await get_document(session, user.id, document_id)
        if document is None:
            raise HTTPException(status_code=404)
        path = store.path_for(services.settings.documents_dir, document.sha256)
        if not path.is_file():
            raise HTTPException(status_code=404)
        extension = {"application/pdf": ".pdf", "text/plain": ".txt", "message/rfc822": ".eml"}.get(
            document.mime, mimetypes.guess_extension(document.mime) or "")
        name = document.filename or f"bill-{document.id}{extension}"
        return FileResponse(path, media_type=document.mime, filename=name,
                            headers={"X-Content-Type-Options": "nosniff"})

    async def calendar_ics(days: int = Query(90, ge=1, le=366), user=Depends(get_current_user)):
        """The signed-in user's open bills as an .ics download (no session: 401, from Chainlit's auth)."""
        from assistant.calendar import user_calendar

        if user is None or services is None:
            raise HTTPException(status_code=404)
        text, _ = await user_calendar(services.sessions, user.id, services.today(), days)
        return Response(text.encode("utf-8"), media_type="text/calendar; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="bills.ics"',
                                 "Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"})

    async def only_own(user, **ids: str | None) -> None:
        layer = get_data_layer()
        if user is None or not hasattr(layer, "belongs_to_other") or await layer.belongs_to_other(
                user.identifier, **ids):
            raise HTTPException(status_code=404)

    async def update_feedback(request: Request, update: UpdateFeedbackRequest, user=Depends(get_current_user)):
        feedback = update.feedback
        await only_own(user, step_id=feedback.forId, thread_id=feedback.threadId, feedback_id=feedback.id)
        return await chainlit_server.update_feedback(request, update, user)

    async def delete_feedback(request: Request, payload: DeleteFeedbackRequest, user=Depends(get_current_user)):
        await only_own(user, feedback_id=payload.feedbackId)
        return await chainlit_server.delete_feedback(request, payload, user)

    async def live():
        return JSONResponse({"status": "live"})

    async def ready():
        from assistant.health import readiness

        ok, checks = await readiness(services)
        return JSONResponse({"status": "ready" if ok else "not ready", "checks": checks},
                            status_code=200 if ok else 503)

    async def prometheus():
        from assistant import metrics

        return Response(metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")

    routes = [("/attachments/{key:path}", attachment, "GET"), ("/documents/{document_id}", original, "GET"),
              ("/calendar.ics", calendar_ics, "GET"), ("/feedback", update_feedback, "PUT"),
              ("/feedback", delete_feedback, "DELETE"), ("/health/live", live, "GET"),
              ("/health/ready", ready, "GET"), ("/metrics", prometheus, "GET")]
    for path, endpoint, method in routes:
        app.add_api_route(path, endpoint, methods=[method])
    # Chainlit ends its routes with a catch-all that serves the UI: ours must come before it.
    ours = [app.router.routes.pop() for _ in range(len(routes))]
    assert all(isinstance(r, Route) for r in ours)
    for route in ours:
        app.router.routes.insert(0, route)
