"""Channel Talk Open API v5 as an audience destination: member profiles, managed tags, unsubscribe flags."""

from activation.destinations.channeltalk.client import ChannelTalkDestination

__all__ = ["ChannelTalkDestination"]
