"""The LeanCloud REST protocol itself, shared by every other layer and importing none of them.

- :mod:`~leanorm.protocol.encoding`: Python values to and from the wire's JSON (``__type`` values, dates).
- :mod:`~leanorm.protocol.geo`: the GeoPoint value and great-circle distances.
- :mod:`~leanorm.protocol.dialects`: LeanCloud's and Parse Server's headers, paths, capabilities, and
  request signing (``X-LC-Sign``).
- :mod:`~leanorm.protocol.markers`: the signed markers that switch hooks off for one write.
- :mod:`~leanorm.protocol.wsgi_input`: request bodies read from a WSGI server (sized or chunked).

:mod:`leanorm.errors` (the error codes and their exceptions) belongs to this layer too; it keeps its
public name. The contracts in ``setup.cfg`` (``[importlinter]``) hold the layering.
"""
