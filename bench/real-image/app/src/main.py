"""HTTP API."""
import jwt
from flask import Flask, abort, jsonify, request

from . import db, settings

app = Flask(__name__)


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.get("/orders/count")
def count():
    token = request.headers.get("Authorization", "").removeprefix("Bearer ")
    try:
        jwt.decode(token, settings.require("JWT_SECRET"), algorithms=["HS256"])
    except jwt.PyJWTError:
        abort(401)
    return jsonify(count=db.order_count())


if __name__ == "__main__":
    app.run(host="0.0.0.0", port=8000)
