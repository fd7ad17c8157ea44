"""The Chargebee client layer, one module per concern (import from them directly).

``encode`` turns an action's canonical parameters into a ``Request``; ``client`` sends one
request per call and maps failures to the tree in ``errors``; ``retry`` holds the pure
functions the run engine's retry loop uses.
"""
