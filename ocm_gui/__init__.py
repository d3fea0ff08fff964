"""Online Chat Messenger desktop app (Tkinter).

The windows talk to ``ocm_core``'s ``ChatServer`` and ``ChatClient`` only; no
widget is touched from another thread. Start it with :func:`ocm_gui.app.run_app`.
"""
