# The developer used to keep these in .env; now they live in the shell (direnv).
from decouple import config

SECRET_KEY = config("SECRET_KEY")
ALLOWED_HOSTS = [config("ALLOWED_HOST")]
DB_PASSWORD = config("DB_PASSWORD", default="postgres")
DRAMATIQ_BROKER = config("DRAMATIQ_BROKER", default="stub")
