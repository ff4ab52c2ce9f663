"""allauth's routes minus its unnamed legacy redirects (`social/…` -> `3rdparty/…`).

Every route must have a name so the policy table (apps/core/policy.py) can classify it;
the deprecated aliases have none and are not needed by a new installation.
"""

from allauth import urls as allauth_urls
from django.urls import URLPattern

urlpatterns = [
    pattern
    for pattern in allauth_urls.urlpatterns
    if not (isinstance(pattern, URLPattern) and pattern.name is None)
]
