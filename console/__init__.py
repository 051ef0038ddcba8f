"""The operator console: server-rendered pages for the people who run communities, care services and partners."""
