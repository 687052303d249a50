"""Configuration, read from the environment at start-up (nothing secret lives in the image)."""
import os

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://localhost:5432/orders")
REDIS_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
BUCKET = os.environ.get("ORDERS_BUCKET", "acme-orders-exports")
AWS_REGION = os.environ.get("AWS_REGION", "eu-west-1")
STRIPE_API_KEY = os.environ.get("STRIPE_API_KEY")  # injected by the orchestrator
JWT_SECRET = os.environ.get("JWT_SECRET")  # injected by the orchestrator
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")


def require(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"missing required environment variable {name}")
    return value
