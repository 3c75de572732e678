"""Run by Rasa's interpreter (``.venv-rasa``, from the repository's root):
prints, as JSON, the HTTP routes and socket.io events of the input
channels ``bot/`` adds to Rasa (``credentials.yml``), read from the
channels' own blueprints, and the action server's routes, read from
rasa_sdk's app. ``tests/security/app_routes.py`` calls it."""

import importlib
import json
import os

import yaml
from rasa_sdk.endpoint import create_app

routes, events = [], []
with open("credentials.yml") as credentials_file:
    channels = yaml.safe_load(credentials_file)
for path, credentials in channels.items():
    if not path.startswith("bot."):
        continue
    module, name = path.rsplit(".", 1)
    channel_class = getattr(importlib.import_module(module), name)
    values = {key: os.path.expandvars(str(value)) for key, value in (credentials or {}).items()}
    channel = channel_class.from_credentials(values)
    blueprint = channel.blueprint(lambda _message: None)
    for route in blueprint._future_routes:
        for method in sorted(set(route.methods) - {"HEAD", "OPTIONS"}):
            routes.append([method, path, f"/webhooks/{channel.url_prefix()}{route.uri}"])
    server = getattr(channel, "sio", None)
    if server is not None:
        events += sorted(set(server.handlers["/"]) - {"connect", "disconnect", "*"})
actions = sorted(
    [method, "rasa_sdk", "/" + route.path]
    for route in create_app("actions").router.routes
    for method in sorted(set(route.methods) - {"HEAD", "OPTIONS"})
)
print(json.dumps({"routes": sorted(routes), "events": events, "actions": actions}))
