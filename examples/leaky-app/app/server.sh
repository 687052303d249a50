#!/bin/sh
# Pretend server: prints its configuration and exits.
echo "leaky-app ($APP_ENV) starting"
cat /app/config.yaml
