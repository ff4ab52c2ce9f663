"""Whether this server really sends email, for the pages where that matters.

In local mode (`make run` without EMAIL_HOST) mail goes to the server's terminal, so a
confirmation link or an invitation never reaches anyone; two-factor setup needs a
verified address. Pages say so instead of leaving people waiting for a message.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings


def email_delivery(request):
    printed = settings.EMAIL_BACKEND == "django.core.mail.backends.console.EmailBackend"

    @cache
    def email_unverified() -> bool:
        """The signed-in user has an unverified address, which blocks two-factor setup
        (allauth's rule); queried only if a page asks."""
        from allauth.account.models import EmailAddress

        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return False
        return EmailAddress.objects.filter(user=user, verified=False).exists()

    return {"email_printed": printed, "email_unverified": email_unverified}
