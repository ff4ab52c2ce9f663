"""allauth imports `<provider package>.urls` for every provider; the team providers'
routes live in apps/sso/urls.py (per team), so this package serves none."""
