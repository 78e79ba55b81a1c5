"""WebSocket routes (served by the ASGI application beside the pages)."""

from django.urls import path

from .consumers import RecordRoom

websocket_urlpatterns = [
    path("ws/talks/<int:talk_id>/record/", RecordRoom.as_asgi(), name="record_room"),
]
