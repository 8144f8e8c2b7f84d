"""The test app as a real FastAPI app (Debian's python3-fastapi), served by Debian's real uvicorn as app.main:app.

It answers like /app/app.py's `serve` (whose health checks it reuses): any path ending in /health gives the JSON
health (version, database, redis; degraded with DEGRADED=1), any other GET the role and version, a POST the size
of the body it read. APP_MODE=crash fails the import with a KeyError (a release missing a setting).
"""
import importlib.util
import os

from fastapi import FastAPI, Request

if os.environ.get("APP_MODE") == "crash":
    raise KeyError("APP_SETTING")

_spec = importlib.util.spec_from_file_location("railyard_test_app", "/app/app.py")
_app = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_app)

app = FastAPI()


@app.get("/{path:path}")
def get(path: str):
    if path.endswith("health"):
        return _app.health()
    return {"role": os.environ.get("APP_ROLE", "app"), "version": _app.VERSION}


@app.post("/{path:path}")
async def post(path: str, request: Request):
    return {"received": len(await request.body())}
