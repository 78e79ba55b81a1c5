"""Domain events other apps may listen to. Sent once per change, after the commit."""

from django.dispatch import Signal

# talk=Talk, event=TalkEvent value, actor=Employee | None
talk_changed = Signal()
