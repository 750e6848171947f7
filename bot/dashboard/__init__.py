"""The read-only web dashboard and the standalone HTML report (charts as inline SVG)."""

from bot.dashboard.settings import TOKEN_ENV, DashboardSettings, dashboard_token

__all__ = ["TOKEN_ENV", "DashboardSettings", "dashboard_token"]
