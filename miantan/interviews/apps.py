from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InterviewsConfig(AppConfig):
    name = "miantan.interviews"
    verbose_name = _("Talks")

    def ready(self) -> None:
        # Scheduled talks are busy time for the slot search (scheduling never imports us).
        from miantan.scheduling.availability import register_talk_loader

        from .queries import scheduled_talk_spans

        register_talk_loader(scheduled_talk_spans)
