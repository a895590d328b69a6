"""Client for SMM panels that speak "API v2", and a sandbox panel to test it against.

Nothing here imports Django: the shop wires the client to its models in
``shop.catalogue.providers``.
"""
