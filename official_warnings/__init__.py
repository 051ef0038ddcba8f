"""Official warnings of both countries: DWD, MeteoAlarm and NINA feeds, normalised and delivered."""
