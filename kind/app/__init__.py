"""``kind app``: a local web page for choosing KinD's light level (``pip install "kind[app]"``).

:mod:`kind.app.workspace` keeps every file of the app in one temporary folder, one sub-folder a
session; :mod:`kind.app.session` holds one user's photos and runs what the page asks (the preview
at a ratio, the maps, the full-resolution file and the zip through :func:`kind.enhance.enhance_files`);
:mod:`kind.app.endpoints` are the scriptable ``/enhance`` and ``/decompose``; :mod:`kind.app.ui`
builds the Gradio page (the only module that imports Gradio) and :mod:`kind.app.serve` starts it.
"""
