"""What the dashboard shows, folded from the event stream, in plain Python (no Textual).

`state` is the model every screen and widget reads; `feed` hands events over from the engine's
threads to the UI thread. Both are core: tests drive them without a terminal.
"""
