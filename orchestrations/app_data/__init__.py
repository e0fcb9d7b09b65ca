"""The app's own data, kept where the app runs: SQLite and folders under APP_DATA_DIR locally, Azure Table and
Blob Storage on Azure (`storage.py` chooses): trip bookings and code-swarm workspaces."""
