"""The endpoints: one module per resource the protocol serves, each registering its routes
(:func:`..routing.route`) when imported. Importing this package imports them all."""
from . import (aggregate, app_config, auth_data, batch, batch_save, captcha, classes, console, cql,  # noqa: F401
               file_urls, file_values, form_upload, friendship, health, hooks, hosted_files, installations,
               jobs, leaderboards, mail, objects, push, reads, schemas, server_time, session_objects,
               sessions, sms, statuses, users)
