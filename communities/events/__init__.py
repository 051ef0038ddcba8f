"""Community events: bilingual agenda, RSVPs with waiting lists, reminders and iCalendar feeds."""
