"""newsbot: answers questions about news articles with citations you can check."""
