"""The store: where the embedded server keeps an app's data (SQLite), and everything that runs inside it:
values as stored, the query compiler, regular expressions and SQL functions, the writer lock,
checkpoints, counters, backups. Nothing here knows a request's route or its access rules."""
