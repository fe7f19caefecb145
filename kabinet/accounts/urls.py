from django.urls import path

from kabinet.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("2fa/", views.two_factor_view, name="two_factor"),
    path("password/", views.password_change_view, name="password_change"),
    path("reset/", views.password_reset_view, name="password_reset"),
    path("reset/confirm/", views.password_reset_confirm_view, name="password_reset_confirm"),
    path("activate/", views.activate_view, name="activate"),
    path("tokens/", views.tokens_view, name="tokens"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke_view, name="token_revoke"),
    path("language/", views.set_language_view, name="set_language"),
]
