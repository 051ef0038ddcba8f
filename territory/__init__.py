"""Territory: municipalities of France and Germany, their importers, public holidays and the time-zone rule."""
