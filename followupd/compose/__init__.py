"""Writing the follow-up: the template library, which variant a touch gets, rendering it, building the message,
and the checks that hold the wording to the tone rules. Pure: plain data in, text out (Jinja2 and Babel only)."""
