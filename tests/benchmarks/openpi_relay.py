"""A robot process with the unmodified openpi client: run by the Python of a virtual
environment holding only ``openpi-client==0.1.2`` (numpy < 2), it relays requests between the
test (JSON lines on stdin and stdout, arrays as base64) and the server.

Usage: python openpi_relay.py HOST PORT [API_KEY]. Prints the server's metadata first, then
one reply (or {"error": text}) per request line.
"""

import base64
import json
import sys

import numpy as np
from openpi_client.websocket_client_policy import WebsocketClientPolicy


def encode(value):
    if isinstance(value, np.ndarray):
        data = base64.b64encode(value.tobytes()).decode()
        return {"b64": data, "dtype": value.dtype.str, "shape": list(value.shape)}
    if isinstance(value, dict):
        return {key: encode(item) for key, item in value.items()}
    return value.item() if isinstance(value, np.generic) else value


def decode(value):
    if isinstance(value, dict) and "b64" in value:
        data = np.frombuffer(base64.b64decode(value["b64"]), dtype=np.dtype(value["dtype"]))
        return data.reshape(value["shape"])
    return {key: decode(item) for key, item in value.items()}


def main() -> None:
    host, port, api_key = sys.argv[1], int(sys.argv[2]), (sys.argv[3:] or [None])[0]
    policy = WebsocketClientPolicy(host, port, api_key=api_key)
    print(json.dumps(encode(policy.get_server_metadata())), flush=True)
    for line in sys.stdin:
        try:
            answer = encode(policy.infer(decode(json.loads(line))))
        except Exception as error:  # the test reads what the client raised
            answer = {"error": f"{type(error).__name__}: {error}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
