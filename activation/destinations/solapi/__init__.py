"""Solapi v4 (KakaoTalk AlimTalk/FriendTalk, SMS/LMS): HMAC auth, groups API, status codes."""

from activation.destinations.solapi.client import SolapiClient
from activation.destinations.solapi.destination import ScheduleInPastError, SolapiDestination

__all__ = ["ScheduleInPastError", "SolapiClient", "SolapiDestination"]
