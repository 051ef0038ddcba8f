"""Communities: municipalities of both countries, interest communities, memberships, posts and events."""
