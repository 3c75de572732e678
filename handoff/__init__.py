"""The handoff service: attendances, operators, protocols and the console's back end."""
