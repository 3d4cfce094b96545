# Untracked developer settings (in .gitignore).
BROKER_URL = "stub://"
