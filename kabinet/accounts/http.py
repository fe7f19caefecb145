"""Request type for views behind login_required, so the user is known to be a real User."""

from django.http import HttpRequest

from kabinet.accounts.models import User


class AuthenticatedRequest(HttpRequest):
    user: User
