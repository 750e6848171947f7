"""Reddit: inbox (mentions, private messages, replies) and subreddit listening, via praw."""

from connectors.reddit.connector import RedditConnector
from connectors.reddit.settings import RedditSettings

__all__ = ["RedditConnector", "RedditSettings"]
