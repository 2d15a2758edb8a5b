"""Moving a whole application between backends: console exports in and out, users, files, verification.

``leanorm import`` (:mod:`.importer`), ``leanorm export`` (:mod:`.exporter`) and ``leanorm verify``
(:mod:`.verify`); ``leanorm migrate`` (:mod:`leanorm.migrate`) shares the user handling of :mod:`.users`.
"""
